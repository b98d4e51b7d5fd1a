# fish completion for runsvchdir (runit-rs): runsvchdir dir, a runlevel in
# $RUNSVDIR (default /etc/runit/runsvdir).
function __runit_rs_runlevels
    set -l base $RUNSVDIR
    test -n "$base"; or set base /etc/runit/runsvdir
    for e in $base/*
        set -l n (basename -- $e)
        contains -- $n current previous current.new; and continue
        test -d $e; and echo $n
    end
end
complete -c runsvchdir -f -n 'test (count (commandline -opc)) -eq 1' -a '(__runit_rs_runlevels)' -d runlevel
