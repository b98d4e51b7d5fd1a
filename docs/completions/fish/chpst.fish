# fish completion for chpst and its daemontools names (runit-rs). The
# names' files (envdir.fish, ...) are links to this one.

# The words after the options and their arguments: the operands so far.
function __runit_rs_chpst_operands
    set -l words (commandline -opc)
    set -l name (basename -- $words[1])
    set -e words[1]
    set -l withargs
    switch $name
        case chpst
            set withargs u U b e E / C n l L m d o p f c r t
        case softlimit
            set withargs a c d f l m o p r s t
        case envdir envuidgid setuidgid pgrphack
            printf '%s\n' $words
            return
    end
    set -l pending 0
    set -l done 0
    for w in $words
        if test $pending -eq 1
            set pending 0
        else if test $done -eq 0; and test "$w" = --
            set done 1
        else if test $done -eq 0; and string match -qr -- '^-.' $w
            for c in (string split '' -- (string sub -s 2 -- $w))
                if contains -- $c $withargs
                    test "$w" = "-$c"; or string match -qr -- "$c\$" $w; and set pending 1
                    break
                end
            end
        else
            set done 1
            echo $w
        end
    end
end

# How many operands come before the program.
function __runit_rs_chpst_before
    switch (basename -- (commandline -opc)[1])
        case envdir envuidgid setuidgid setlock
            echo 1
        case '*'
            echo 0
    end
end

function __runit_rs_chpst_at_program
    test (count (__runit_rs_chpst_operands)) -eq (__runit_rs_chpst_before)
end

function __runit_rs_chpst_at_operand
    test (count (__runit_rs_chpst_operands)) -lt (__runit_rs_chpst_before)
end

function __runit_rs_chpst_in_options
    test (count (__runit_rs_chpst_operands)) -eq 0
end

function __runit_rs_chpst_after_program
    test (count (__runit_rs_chpst_operands)) -gt (__runit_rs_chpst_before)
end

for name in chpst envdir envuidgid pgrphack setlock setuidgid softlimit
    complete -c $name -f
    complete -c $name -n __runit_rs_chpst_at_program -a '(__fish_complete_command)'
    complete -c $name -n __runit_rs_chpst_after_program -a '(__fish_complete_subcommand)'
end

set -l o -c chpst -n __runit_rs_chpst_in_options
complete $o -s u -x -a '(__fish_complete_users)' -d 'Run as user (user:group... or :uid:gid...)'
complete $o -s U -x -a '(__fish_complete_users)' -d 'Set $UID and $GID from user'
complete $o -s b -x -d 'Run the program with this argv0'
complete $o -s e -x -a '(__fish_complete_directories)' -d 'Load an environment directory'
complete $o -s E -x -a '(__fish_complete_directories)' -d 'Load one more environment layer (runit-rs)'
complete $o -s H -d 'Set HOME, USER, LOGNAME from the account (runit-rs)'
complete $o -s / -x -a '(__fish_complete_directories)' -d 'Change root'
complete $o -s C -x -a '(__fish_complete_directories)' -d 'Change directory'
complete $o -s n -x -d 'Add to the niceness'
complete $o -s l -r -F -d 'Wait for an exclusive lock on a file'
complete $o -s L -r -F -d 'Take an exclusive lock, fail if held'
complete $o -s m -x -d 'Limit data, stack, locked memory and address space'
complete $o -s d -x -d 'Limit the data segment'
complete $o -s o -x -d 'Limit open files'
complete $o -s p -x -d 'Limit processes'
complete $o -s f -x -d 'Limit file size'
complete $o -s c -x -d 'Limit core size'
complete $o -s r -x -d 'Limit the resident set'
complete $o -s t -x -d 'Limit CPU time'
complete $o -s v -d Verbose
complete $o -s V -d 'Print the version and the usage'
complete $o -s P -d 'New session and process group'
complete $o -s 0 -d 'Close standard input'
complete $o -s 1 -d 'Close standard output'
complete $o -s 2 -d 'Close standard error'

complete -c envdir -n __runit_rs_chpst_at_operand -a '(__fish_complete_directories)' -d 'environment directory'
complete -c envuidgid -n __runit_rs_chpst_at_operand -a '(__fish_complete_users)'
complete -c setuidgid -n __runit_rs_chpst_at_operand -a '(__fish_complete_users)'

set -l s -c setlock -n __runit_rs_chpst_in_options
complete $s -s n -d 'Wait for the lock'
complete $s -s N -d 'Fail at once if the lock is held (default)'
complete $s -s x -d 'Exit 0 if the lock or the program fails'
complete $s -s X -d 'Undo -x'
complete -c setlock -n __runit_rs_chpst_at_operand -F -d 'lock file'

set -l l -c softlimit -n __runit_rs_chpst_in_options
complete $l -s a -x -d 'Address space (bytes or =)'
complete $l -s c -x -d 'Core size (bytes or =)'
complete $l -s d -x -d 'Data segment (bytes or =)'
complete $l -s f -x -d 'File size (bytes or =)'
complete $l -s l -x -d 'Locked memory (bytes or =)'
complete $l -s m -x -d 'Data, stack, locked memory and address space'
complete $l -s o -x -d 'Open files (number or =)'
complete $l -s p -x -d 'Processes (number or =)'
complete $l -s r -x -d 'Resident set (bytes or =)'
complete $l -s s -x -d 'Stack (bytes or =)'
complete $l -s t -x -d 'CPU seconds (or =)'
