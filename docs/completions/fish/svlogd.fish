# fish completion for svlogd (runit-rs):
# svlogd [-tttv] [-T] [-o] [-V] [-r c] [-R abc] [-l len] [-b buflen] dir ...
complete -c svlogd -f -a '(__fish_complete_directories)' -d 'log directory'
complete -c svlogd -s t -d 'Timestamp lines: TAI64N; -tt UTC; -ttt ISO 8601 UTC'
complete -c svlogd -s T -d 'RFC 3339 timestamps; -TT in local time (runit-rs)'
complete -c svlogd -s o -d 'Also copy lines to standard output (runit-rs)'
complete -c svlogd -s v -d 'Verbose messages on standard error'
complete -c svlogd -s V -d 'Print the version and the usage'
complete -c svlogd -s r -x -d 'Replacement character for non-printable characters'
complete -c svlogd -s R -x -d 'More characters to replace'
complete -c svlogd -s l -x -d 'Maximum line length'
complete -c svlogd -s b -x -d 'Buffer size'
