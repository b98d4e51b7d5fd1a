# fish completion for sv (runit-rs): sv [-v] [-w sec] [-V] [-j] [-H] command service ...

function __runit_rs_sv_services
    set -l dir $SVDIR
    if test -z "$dir"
        for d in /etc/service /var/service /service
            if test -d $d
                set dir $d
                break
            end
        end
    end
    test -n "$dir"; and test -d "$dir"; or return
    for e in $dir/*
        test -d $e; and basename -- $e
    end
end

set -l __runit_rs_sv_commands status up down once pause cont hup alarm interrupt quit 1 2 term kill exit \
    start stop reload restart shutdown force-stop force-reload force-restart force-shutdown try-restart check

complete -c sv -f
complete -c sv -s v -d 'Wait for the command to take effect and report'
complete -c sv -s w -x -d 'Wait at most SEC seconds (implies -v)'
complete -c sv -s V -d 'Print the version and the usage'
complete -c sv -s j -d 'Print status as JSON (runit-rs)'
complete -c sv -s H -d 'Status with the death history (runit-rs)'
complete -c sv -n "not __fish_seen_subcommand_from $__runit_rs_sv_commands" -a "$__runit_rs_sv_commands"
complete -c sv -n "__fish_seen_subcommand_from $__runit_rs_sv_commands" -a '(__runit_rs_sv_services)' -d service
complete -c sv -n "__fish_seen_subcommand_from $__runit_rs_sv_commands" -a '(__fish_complete_directories)'
