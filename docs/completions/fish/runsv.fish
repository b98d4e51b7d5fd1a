# fish completion for runsv (runit-rs): runsv dir (no options).
complete -c runsv -f -a '(__fish_complete_directories)' -d 'service directory'
