# fish completion for runit (runit-rs): process 1; no options, arguments
# are ignored.
complete -c runit -f
