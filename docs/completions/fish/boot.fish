# fish completion for boot (runit-rs):
# boot [--root dir] [--config file] [--catalogue dir] [--source spec]...
#      [--bin-dir dir] [--wait seconds] [-v|-q] plan|up|down|status|tags|render|help
#      [command options]

set -l __runit_rs_boot_commands plan up down status tags render help

function __runit_rs_boot_sources
    set -l tok (commandline -ct)
    switch $tok
        case 'static:*' 'describe-tags:*' 'legacy:*'
            set -l kind (string split -m1 : -- $tok)[1]
            for f in (__fish_complete_path (string replace -r '^[^:]*:' '' -- $tok))
                echo $kind:$f
            end
        case '*'
            printf '%s\n' imds\t'EC2 instance metadata (IMDSv2)' env\t'BOOT_TAG_<key> variables' \
                static\t'the catalogue tags.toml' static:\t'a TOML tags file' \
                describe-tags:\t'JSON from aws ec2 describe-tags' legacy:\t'text of the old EC2 API tools' \
                'imds?'\t'EC2 metadata, optional' 'env?'\t'environment, optional'
    end
end

complete -c boot -f
complete -c boot -n "not __fish_seen_subcommand_from $__runit_rs_boot_commands" -a plan -d 'Print what up would do'
complete -c boot -n "not __fish_seen_subcommand_from $__runit_rs_boot_commands" -a up -d 'Render and start the services of the mode'
complete -c boot -n "not __fish_seen_subcommand_from $__runit_rs_boot_commands" -a down -d 'Stop everything, leave the box as new'
complete -c boot -n "not __fish_seen_subcommand_from $__runit_rs_boot_commands" -a status -d 'Mode, services and their state'
complete -c boot -n "not __fish_seen_subcommand_from $__runit_rs_boot_commands" -a tags -d 'Merged tags and their sources'
complete -c boot -n "not __fish_seen_subcommand_from $__runit_rs_boot_commands" -a render -d 'Render the service directories into --out'
complete -c boot -n "not __fish_seen_subcommand_from $__runit_rs_boot_commands" -a help -d 'Print the help, or one command\'s'
complete -c boot -n "__fish_seen_subcommand_from help" -a "$__runit_rs_boot_commands"

complete -c boot -l root -x -a '(__fish_complete_directories)' -d "Relocate boot's files below this directory"
complete -c boot -l config -r -F -d 'Configuration file'
complete -c boot -l catalogue -x -a '(__fish_complete_directories)' -d 'Service catalogue'
complete -c boot -l source -x -a '(__runit_rs_boot_sources)' -d 'Tag source (repeatable)'
complete -c boot -l bin-dir -x -a '(__fish_complete_directories)' -d 'Where the runit programs are'
complete -c boot -l wait -x -d 'Seconds to wait for the metadata service'
complete -c boot -s v -l verbose -d 'More log output (repeatable)'
complete -c boot -s q -l quiet -d 'Less log output (repeatable)'
complete -c boot -s h -l help -d 'Print help'
complete -c boot -l version -d 'Print the version'
complete -c boot -n '__fish_seen_subcommand_from plan up' -l allow-mode-change -d 'Allow changing the mode'
complete -c boot -n '__fish_seen_subcommand_from plan up' -l allow-service-change -d 'Allow changing the service'
complete -c boot -n '__fish_seen_subcommand_from up' -l spawn-runsvdir -d 'Start runsvdir if none runs'
complete -c boot -n '__fish_seen_subcommand_from down' -l purge -d 'Also remove data and logs'
complete -c boot -n '__fish_seen_subcommand_from status tags' -l json -d 'Print JSON'
complete -c boot -n '__fish_seen_subcommand_from status' -l prometheus -d 'Prometheus text format'
complete -c boot -n '__fish_seen_subcommand_from render' -l out -x -a '(__fish_complete_directories)' -d 'Output directory'
