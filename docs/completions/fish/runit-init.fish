# fish completion for runit-init (runit-rs): runit-init 0|6
complete -c runit-init -f
complete -c runit-init -s V -d 'Print the version and the usage'
complete -c runit-init -n 'test (count (commandline -opc)) -eq 1' -a 0 -d 'Halt (power off)'
complete -c runit-init -n 'test (count (commandline -opc)) -eq 1' -a 6 -d Reboot
