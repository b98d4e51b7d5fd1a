# fish completion for runsvdir (runit-rs): runsvdir [-P] dir [log]
# (-P is only an option as the first argument).
complete -c runsvdir -f
complete -c runsvdir -n 'test (count (commandline -opc)) -eq 1' -s P -d 'Start each runsv in a new session'
complete -c runsvdir -n 'test (count (commandline -opc)) -le 2' -a '(__fish_complete_directories)' -d 'services directory'
