function __dmstack_should_offer_completions_for_flags_or_options -a expected_commands
    set -l non_repeating_flags_or_options $argv[2..]
    set -l non_repeating_flags_or_options_absent 0
    set -l positional_index 0
    set -l commands
    __dmstack_parse_tokens
    test "$commands" = "$expected_commands"; and return $non_repeating_flags_or_options_absent
end

function __dmstack_should_offer_completions_for_positional -a expected_commands positional_index_comparison expected_positional_index
    set -l non_repeating_flags_or_options
    set -l non_repeating_flags_or_options_absent 0
    set -l positional_index 0
    set -l commands
    __dmstack_parse_tokens
    test "$commands" = "$expected_commands" -a \( "$positional_index" "$positional_index_comparison" "$expected_positional_index" \)
end

function __dmstack_parse_tokens -S
    set -l unparsed_tokens (__dmstack_tokens -pc)
    switch $unparsed_tokens[1]
    case 'dmstack'
        __dmstack_parse_subcommand 0 'version' 'h/help'
        switch $unparsed_tokens[1]
        case 'tree'
            __dmstack_parse_subcommand -r 1 'snapshot=' 'inverse' 'all' 'J/json' 'o/output=' 'n/noheadings' 'r/raw' 'b/bytes' 'i/ascii' 'version' 'h/help'
        case 'show'
            __dmstack_parse_subcommand 1 'snapshot=' 'J/json' 'version' 'h/help'
        case 'capture'
            __dmstack_parse_subcommand 0 'reverse-maps=' 'state-dir=' 'o/output=' 'redact-paths' 'redact-key=' 'version' 'h/help'
        case 'translate'
            __dmstack_parse_subcommand 2 'table=' 'snapshot=' 'state-dir=' 'down' 'J/json' 'o/output=' 'n/noheadings' 'r/raw' 'b/bytes' 'i/ascii' 'thin-dump=+' 'cache-dump=+' 'snapshot-store=+' 'writecache-metadata=+' 'integrity-superblock=+' 'version' 'h/help'
        case 'simulate'
            __dmstack_parse_subcommand 1 'range=' 'event=' 'J/json' 'reverse-map=' 'kernel=' 'thin-dump=+' 'cache-dump=+' 'snapshot-store=+' 'writecache-metadata=+' 'integrity-superblock=+' 'snapshot=' 'state-dir=' 'version' 'h/help'
        case 'apply'
            __dmstack_parse_subcommand 1 'dry-run' 'force' 'J/json' 'snapshot=' 'state-dir=' 'version' 'h/help'
        case 'teardown'
            __dmstack_parse_subcommand 1 'dry-run' 'force' 'J/json' 'snapshot=' 'state-dir=' 'version' 'h/help'
        case 'list'
            __dmstack_parse_subcommand 0 'J/json' 'snapshot=' 'o/output=' 'n/noheadings' 'r/raw' 'b/bytes' 'i/ascii' 'state-dir=' 'version' 'h/help'
        case 'holders'
            __dmstack_parse_subcommand 0 'version' 'h/help'
            switch $unparsed_tokens[1]
            case 'register'
                __dmstack_parse_subcommand 1 'raw=' 'name=' 'hook=' 'J/json' 'state-dir=' 'version' 'h/help'
            case 'list'
                __dmstack_parse_subcommand 0 'J/json' 'state-dir=' 'o/output=' 'n/noheadings' 'r/raw' 'b/bytes' 'i/ascii' 'version' 'h/help'
            case 'show'
                __dmstack_parse_subcommand 1 'J/json' 'state-dir=' 'version' 'h/help'
            case 'unregister'
                __dmstack_parse_subcommand 1 'state-dir=' 'version' 'h/help'
            case 'refresh'
                __dmstack_parse_subcommand 1 'rebuild' 'J/json' 'state-dir=' 'version' 'h/help'
            end
        case 'remove'
            __dmstack_parse_subcommand 1 'dry-run' 'kill=' 'wait=' 'yes' 'force' 'J/json' 'thin-dump=+' 'cache-dump=+' 'snapshot-store=+' 'writecache-metadata=+' 'integrity-superblock=+' 'config=' 'state-dir=' 'version' 'h/help'
        case 'monitor'
            __dmstack_parse_subcommand 0 'once' 'J/json' 'metrics-file=' 'config=' 'state-dir=' 'version' 'h/help'
        case 'events'
            __dmstack_parse_subcommand 0 'version' 'h/help'
            switch $unparsed_tokens[1]
            case 'list'
                __dmstack_parse_subcommand 0 'J/json' 'limit=' 'state-dir=' 'o/output=' 'n/noheadings' 'r/raw' 'b/bytes' 'i/ascii' 'version' 'h/help'
            case 'retry'
                __dmstack_parse_subcommand 0 'config=' 'state-dir=' 'version' 'h/help'
            case 'test'
                __dmstack_parse_subcommand 0 'message=' 'config=' 'state-dir=' 'version' 'h/help'
            case 'prune'
                __dmstack_parse_subcommand 0 'older-than=' 'state-dir=' 'version' 'h/help'
            end
        case 'damage'
            __dmstack_parse_subcommand 0 'version' 'h/help'
            switch $unparsed_tokens[1]
            case 'list'
                __dmstack_parse_subcommand 1 'all' 'check' 'J/json' 'config=' 'state-dir=' 'o/output=' 'n/noheadings' 'r/raw' 'b/bytes' 'i/ascii' 'version' 'h/help'
            case 'clear'
                __dmstack_parse_subcommand 1 'all' 'config=' 'state-dir=' 'version' 'h/help'
            end
        case 'metrics'
            __dmstack_parse_subcommand 0 'state-dir=' 'version' 'h/help'
        case 'version'
            __dmstack_parse_subcommand 0 'version' 'h/help'
        case 'help'
            __dmstack_parse_subcommand -r 1 'version'
        end
    end
end

function __dmstack_tokens
    if test (string split -m 1 -f 1 -- . "$FISH_VERSION") -gt 3
        commandline --tokens-raw $argv
    else
        commandline -o $argv
    end
end

function __dmstack_parse_subcommand -S -a positional_count
    argparse -s r -- $argv
    set -l option_specs $argv[2..]
    set -l is_repeating_positional $_flag_r
    set -el _flag_r
    set -a commands $unparsed_tokens[1]
    set positional_index 0
    while true
        set -e unparsed_tokens[1]
        argparse -sn "$commands" $option_specs -- $unparsed_tokens 2> /dev/null
        set unparsed_tokens $argv
        set positional_index (math $positional_index + 1)
        for non_repeating_flag_or_option in $non_repeating_flags_or_options
            if set -ql "_flag_$(string replace -a - _ -- $non_repeating_flag_or_option)"
                set non_repeating_flags_or_options_absent 1
                break
            end
        end
        test (count $unparsed_tokens) -eq 0 -o \( -z "$is_repeating_positional" -a "$positional_index" -gt "$positional_count" \) && break
    end
end

function __dmstack_complete_directories
    set -l token (commandline -t)
    string match -- '*/' $token
    set -l subdirs $token*/
    printf %s\n $subdirs
end

function __dmstack_custom_completion
    set -x SAP_SHELL fish
    set -x SAP_SHELL_VERSION $FISH_VERSION
    set -l tokens (__dmstack_tokens -p)
    if test -z "$(__dmstack_tokens -t)"
        set -l index (count (__dmstack_tokens -pc))
        set tokens $tokens[..$index] \'\' $tokens[(math $index + 1)..]
    end
    command $tokens[1] $argv $tokens
end

complete -c 'dmstack' -f
complete -c 'dmstack' -n '__dmstack_should_offer_completions_for_flags_or_options "dmstack" version' -l 'version' -d 'Show the version.'
complete -c 'dmstack' -n '__dmstack_should_offer_completions_for_flags_or_options "dmstack" h help' -s 'h' -l 'help' -d 'Show help information.'
complete -c 'dmstack' -n '__dmstack_should_offer_completions_for_positional "dmstack" -eq 1' -fa 'tree' -d 'Show every device stack as a tree: top devices first, or leaves first with --inverse.'
complete -c 'dmstack' -n '__dmstack_should_offer_completions_for_positional "dmstack" -eq 1' -fa 'show' -d 'Show everything about one device: identity, table, status, what is above and below, filesystem, mounts, pmem.'
complete -c 'dmstack' -n '__dmstack_should_offer_completions_for_positional "dmstack" -eq 1' -fa 'capture' -d 'Write a snapshot of this machine\'s block devices for offline use (--snapshot FILE).'
complete -c 'dmstack' -n '__dmstack_should_offer_completions_for_positional "dmstack" -eq 1' -fa 'translate' -d 'Translate a sector range through every dm table, up to the top devices or down to the leaves.'
complete -c 'dmstack' -n '__dmstack_should_offer_completions_for_positional "dmstack" -eq 1' -fa 'simulate' -d 'Say what a leaf\'s removal or bad range hits (layers, filesystems, files, metadata, processes) and what must happen; change nothing.'
complete -c 'dmstack' -n '__dmstack_should_offer_completions_for_positional "dmstack" -eq 1' -fa 'apply' -d 'Create a spec\'s volumes bottom-up, make and mount their filesystems; roll everything back on failure.'
complete -c 'dmstack' -n '__dmstack_should_offer_completions_for_positional "dmstack" -eq 1' -fa 'teardown' -d 'Unmount and remove a stack\'s volumes (or one volume and what is built on it), top-down.'
complete -c 'dmstack' -n '__dmstack_should_offer_completions_for_positional "dmstack" -eq 1' -fa 'list' -d 'List the dm devices dmstack owns (uuid prefix DMSTACK-), with their state.'
complete -c 'dmstack' -n '__dmstack_should_offer_completions_for_positional "dmstack" -eq 1' -fa 'holders' -d 'Record, list and refresh holder chains: from each leaf through the dm layers to a filesystem or application.'
complete -c 'dmstack' -n '__dmstack_should_offer_completions_for_positional "dmstack" -eq 1' -fa 'remove' -d 'Take a leaf away safely: freeze, notify, signal, invalidate, thaw, unmount, remove the dm layers above it, unbind it.'
complete -c 'dmstack' -n '__dmstack_should_offer_completions_for_positional "dmstack" -eq 1' -fa 'monitor' -d 'Watch for removed leaves, new bad ranges and degraded raid/mirror devices; record and dispatch an event for each.'
complete -c 'dmstack' -n '__dmstack_should_offer_completions_for_positional "dmstack" -eq 1' -fa 'events' -d 'The notification outbox: list events and their deliveries, retry what is undelivered, send a test event.'
complete -c 'dmstack' -n '__dmstack_should_offer_completions_for_positional "dmstack" -eq 1' -fa 'damage' -d 'List what is damaged now (files with byte ranges, metadata, bad and degraded devices), check it, clear it by hand.'
complete -c 'dmstack' -n '__dmstack_should_offer_completions_for_positional "dmstack" -eq 1' -fa 'metrics' -d 'Print the machine\'s state as Prometheus metrics (text exposition format).'
complete -c 'dmstack' -n '__dmstack_should_offer_completions_for_positional "dmstack" -eq 1' -fa 'version' -d 'Print dmstack\'s version and its libdevmapper and libblkid versions.'
complete -c 'dmstack' -n '__dmstack_should_offer_completions_for_positional "dmstack" -eq 1' -fa 'help' -d 'Show subcommand help information.'
complete -c 'dmstack' -n '__dmstack_should_offer_completions_for_flags_or_options "dmstack tree" snapshot' -l 'snapshot' -d 'Read a snapshot written by `dmstack capture` instead of the live system (- reads standard input; at most 4 GiB).' -rfka ''
complete -c 'dmstack' -n '__dmstack_should_offer_completions_for_flags_or_options "dmstack tree" inverse' -l 'inverse' -d 'Start at the leaves and list what is built on them.'
complete -c 'dmstack' -n '__dmstack_should_offer_completions_for_flags_or_options "dmstack tree" all' -l 'all' -d 'Also list empty devices and RAM disks.'
complete -c 'dmstack' -n '__dmstack_should_offer_completions_for_flags_or_options "dmstack tree" J json' -s 'J' -l 'json' -d 'Print JSON: {"tree": [...]}.'
complete -c 'dmstack' -n '__dmstack_should_offer_completions_for_flags_or_options "dmstack tree" o output' -s 'o' -l 'output' -d 'Columns to print, comma-separated (+COLUMNS adds to the default): NAME device name (vg/lv for lvm), drawn as a tree; KNAME kernel name; MAJ:MIN major:minor; SIZE size; TYPE dm, part, disk, loop, pmem or a layer kind; TABLE summary of the table; FSTYPE filesystem type; UUID filesystem UUID; LABEL filesystem label; MOUNTPOINTS where it is mounted; PMEM pmem mode; STATE device state (suspended, degraded, read-only and the like). Default: NAME,MAJ:MIN,SIZE,TABLE,FSTYPE,MOUNTPOINTS,PMEM,STATE.' -rfka ''
complete -c 'dmstack' -n '__dmstack_should_offer_completions_for_flags_or_options "dmstack tree" n noheadings' -s 'n' -l 'noheadings' -d 'Print no heading line.'
complete -c 'dmstack' -n '__dmstack_should_offer_completions_for_flags_or_options "dmstack tree" r raw' -s 'r' -l 'raw' -d 'Raw output: cells separated by one space, blanks and other unsafe characters hex-escaped as lsblk -r does, no tree drawing, no width limit.'
complete -c 'dmstack' -n '__dmstack_should_offer_completions_for_flags_or_options "dmstack tree" b bytes' -s 'b' -l 'bytes' -d 'Print sizes (and translate\'s START and LENGTH) in bytes.'
complete -c 'dmstack' -n '__dmstack_should_offer_completions_for_flags_or_options "dmstack tree" ascii i' -s 'i' -l 'ascii' -d 'Use ASCII characters only (the default when the locale is not UTF-8).'
complete -c 'dmstack' -n '__dmstack_should_offer_completions_for_flags_or_options "dmstack tree" version' -l 'version' -d 'Show the version.'
complete -c 'dmstack' -n '__dmstack_should_offer_completions_for_flags_or_options "dmstack tree" h help' -s 'h' -l 'help' -d 'Show help information.'
complete -c 'dmstack' -n '__dmstack_should_offer_completions_for_flags_or_options "dmstack show" snapshot' -l 'snapshot' -d 'Read a snapshot written by `dmstack capture` instead of the live system (- reads standard input; at most 4 GiB).' -rfka ''
complete -c 'dmstack' -n '__dmstack_should_offer_completions_for_flags_or_options "dmstack show" J json' -s 'J' -l 'json' -d 'Print JSON: {"device": {...}}.'
complete -c 'dmstack' -n '__dmstack_should_offer_completions_for_flags_or_options "dmstack show" version' -l 'version' -d 'Show the version.'
complete -c 'dmstack' -n '__dmstack_should_offer_completions_for_flags_or_options "dmstack show" h help' -s 'h' -l 'help' -d 'Show help information.'
complete -c 'dmstack' -n '__dmstack_should_offer_completions_for_flags_or_options "dmstack capture" reverse-maps' -l 'reverse-maps' -d 'Which filesystems\' reverse maps to include: registered, all (those on dm, md or pmem stacks), none, or MOUNTPOINT[,MOUNTPOINT...].' -rfka 'registered all none'
complete -c 'dmstack' -n '__dmstack_should_offer_completions_for_flags_or_options "dmstack capture" state-dir' -l 'state-dir' -d 'Where the holder registry lives (default $DMSTACK_STATE_DIR, else /var/lib/dmstack).' -rfka ''
complete -c 'dmstack' -n '__dmstack_should_offer_completions_for_flags_or_options "dmstack capture" o output' -l 'output' -s 'o' -d 'Write to FILE instead of standard output.' -rfka ''
complete -c 'dmstack' -n '__dmstack_should_offer_completions_for_flags_or_options "dmstack capture" redact-paths' -l 'redact-paths' -d 'Replace each path component by a keyed hash (SipHash-2-4); the key and name map go to FILE.names (needs -o FILE).'
complete -c 'dmstack' -n '__dmstack_should_offer_completions_for_flags_or_options "dmstack capture" redact-key' -l 'redact-key' -d 'With --redact-paths: the 128-bit key, 32 hex digits (default: a random one).' -rfka ''
complete -c 'dmstack' -n '__dmstack_should_offer_completions_for_flags_or_options "dmstack capture" version' -l 'version' -d 'Show the version.'
complete -c 'dmstack' -n '__dmstack_should_offer_completions_for_flags_or_options "dmstack capture" h help' -s 'h' -l 'help' -d 'Show help information.'
complete -c 'dmstack' -n '__dmstack_should_offer_completions_for_flags_or_options "dmstack translate" table' -l 'table' -d 'Read tables from FILE instead of the live system (at most 256 MiB).' -rfka ''
complete -c 'dmstack' -n '__dmstack_should_offer_completions_for_flags_or_options "dmstack translate" snapshot' -l 'snapshot' -d 'Read a snapshot written by `dmstack capture` instead of the live system (- reads standard input; at most 4 GiB).' -rfka ''
complete -c 'dmstack' -n '__dmstack_should_offer_completions_for_flags_or_options "dmstack translate" state-dir' -l 'state-dir' -d 'Where the holder registry lives (default $DMSTACK_STATE_DIR, else /var/lib/dmstack).' -rfka ''
complete -c 'dmstack' -n '__dmstack_should_offer_completions_for_flags_or_options "dmstack translate" down' -l 'down' -d 'Translate from a device down to the leaves instead of up.'
complete -c 'dmstack' -n '__dmstack_should_offer_completions_for_flags_or_options "dmstack translate" J json' -s 'J' -l 'json' -d 'Print JSON: {"translations": [...]}.'
complete -c 'dmstack' -n '__dmstack_should_offer_completions_for_flags_or_options "dmstack translate" o output' -s 'o' -l 'output' -d 'Columns to print, comma-separated (+COLUMNS adds to the default): DEVICE the device the range becomes a range of; START first sector (bytes with -b); LENGTH sectors (bytes with -b); a run of COUNT ranges STRIDE apart is LENGTH/STRIDE, then a times sign and COUNT; OUTCOME lost, degraded or unknown; KIND what the range is on that device; REASON why, for an outcome that needs one; an unknown one\'s reason code first; PATH every hop with its target, and the reason in brackets. Default: DEVICE,START,LENGTH,OUTCOME,KIND,PATH.' -rfka ''
complete -c 'dmstack' -n '__dmstack_should_offer_completions_for_flags_or_options "dmstack translate" n noheadings' -s 'n' -l 'noheadings' -d 'Print no heading line.'
complete -c 'dmstack' -n '__dmstack_should_offer_completions_for_flags_or_options "dmstack translate" r raw' -s 'r' -l 'raw' -d 'Raw output: cells separated by one space, blanks and other unsafe characters hex-escaped as lsblk -r does, no tree drawing, no width limit.'
complete -c 'dmstack' -n '__dmstack_should_offer_completions_for_flags_or_options "dmstack translate" b bytes' -s 'b' -l 'bytes' -d 'Print sizes (and translate\'s START and LENGTH) in bytes.'
complete -c 'dmstack' -n '__dmstack_should_offer_completions_for_flags_or_options "dmstack translate" ascii i' -s 'i' -l 'ascii' -d 'Use ASCII characters only (the default when the locale is not UTF-8).'
complete -c 'dmstack' -n '__dmstack_should_offer_completions_for_flags_or_options "dmstack translate"' -l 'thin-dump' -d 'thin_dump XML of the thin pool device POOL, or its metadata device (or an image of it; a dump of at most 4 GiB), checked against the pool\'s table and its thin devices. A live pool is read without it.' -rfka ''
complete -c 'dmstack' -n '__dmstack_should_offer_completions_for_flags_or_options "dmstack translate"' -l 'cache-dump' -d 'cache_dump XML of the cache device CACHE, checked against its table and the sizes of its cache and origin devices.' -rfka ''
complete -c 'dmstack' -n '__dmstack_should_offer_completions_for_flags_or_options "dmstack translate"' -l 'snapshot-store' -d 'COW device (or image) of the snapshot device SNAP.' -rfka ''
complete -c 'dmstack' -n '__dmstack_should_offer_completions_for_flags_or_options "dmstack translate"' -l 'writecache-metadata' -d 'Cache device (or image) of the writecache device WC.' -rfka ''
complete -c 'dmstack' -n '__dmstack_should_offer_completions_for_flags_or_options "dmstack translate"' -l 'integrity-superblock' -d 'Data device (or image) of the dm-integrity device INT, whose superblock gives its layout.' -rfka ''
complete -c 'dmstack' -n '__dmstack_should_offer_completions_for_flags_or_options "dmstack translate" version' -l 'version' -d 'Show the version.'
complete -c 'dmstack' -n '__dmstack_should_offer_completions_for_flags_or_options "dmstack translate" h help' -s 'h' -l 'help' -d 'Show help information.'
complete -c 'dmstack' -n '__dmstack_should_offer_completions_for_flags_or_options "dmstack simulate" range' -l 'range' -d 'START+LENGTH or START-END on the leaf; sectors unless suffixed.' -rfka ''
complete -c 'dmstack' -n '__dmstack_should_offer_completions_for_flags_or_options "dmstack simulate" event' -l 'event' -d 'remove (the whole leaf goes) or failure (a bad range).' -rfka 'remove failure'
complete -c 'dmstack' -n '__dmstack_should_offer_completions_for_flags_or_options "dmstack simulate" J json' -s 'J' -l 'json' -d 'Print JSON.'
complete -c 'dmstack' -n '__dmstack_should_offer_completions_for_flags_or_options "dmstack simulate" reverse-map' -l 'reverse-map' -d 'How file owners are found: auto (GETFSMAP where it names them, else a FIEMAP walk), getfsmap, or fiemap.' -rfka 'auto getfsmap fiemap'
complete -c 'dmstack' -n '__dmstack_should_offer_completions_for_flags_or_options "dmstack simulate" kernel' -l 'kernel' -d 'Plan with the rules of this kernel release (MAJOR.MINOR...: before 6.8 an unbind only shuts XFS down; 6.8+ pre-remove; 6.14+ realtime rmap) instead of the running or recorded kernel\'s.' -rfka ''
complete -c 'dmstack' -n '__dmstack_should_offer_completions_for_flags_or_options "dmstack simulate"' -l 'thin-dump' -d 'thin_dump XML of the thin pool device POOL, or its metadata device (or an image of it; a dump of at most 4 GiB), checked against the pool\'s table and its thin devices. A live pool is read without it.' -rfka ''
complete -c 'dmstack' -n '__dmstack_should_offer_completions_for_flags_or_options "dmstack simulate"' -l 'cache-dump' -d 'cache_dump XML of the cache device CACHE, checked against its table and the sizes of its cache and origin devices.' -rfka ''
complete -c 'dmstack' -n '__dmstack_should_offer_completions_for_flags_or_options "dmstack simulate"' -l 'snapshot-store' -d 'COW device (or image) of the snapshot device SNAP.' -rfka ''
complete -c 'dmstack' -n '__dmstack_should_offer_completions_for_flags_or_options "dmstack simulate"' -l 'writecache-metadata' -d 'Cache device (or image) of the writecache device WC.' -rfka ''
complete -c 'dmstack' -n '__dmstack_should_offer_completions_for_flags_or_options "dmstack simulate"' -l 'integrity-superblock' -d 'Data device (or image) of the dm-integrity device INT, whose superblock gives its layout.' -rfka ''
complete -c 'dmstack' -n '__dmstack_should_offer_completions_for_flags_or_options "dmstack simulate" snapshot' -l 'snapshot' -d 'Read a snapshot written by `dmstack capture` instead of the live system (- reads standard input; at most 4 GiB).' -rfka ''
complete -c 'dmstack' -n '__dmstack_should_offer_completions_for_flags_or_options "dmstack simulate" state-dir' -l 'state-dir' -d 'Where the holder registry lives (default $DMSTACK_STATE_DIR, else /var/lib/dmstack).' -rfka ''
complete -c 'dmstack' -n '__dmstack_should_offer_completions_for_flags_or_options "dmstack simulate" version' -l 'version' -d 'Show the version.'
complete -c 'dmstack' -n '__dmstack_should_offer_completions_for_flags_or_options "dmstack simulate" h help' -s 'h' -l 'help' -d 'Show help information.'
complete -c 'dmstack' -n '__dmstack_should_offer_completions_for_flags_or_options "dmstack apply" dry-run' -l 'dry-run' -d 'Print the plan and change nothing.'
complete -c 'dmstack' -n '__dmstack_should_offer_completions_for_flags_or_options "dmstack apply" force' -l 'force' -d 'Adopt and reload dm devices that lack the DMSTACK- uuid prefix.'
complete -c 'dmstack' -n '__dmstack_should_offer_completions_for_flags_or_options "dmstack apply" J json' -s 'J' -l 'json' -d 'Print JSON.'
complete -c 'dmstack' -n '__dmstack_should_offer_completions_for_flags_or_options "dmstack apply" snapshot' -l 'snapshot' -d 'Read a snapshot written by `dmstack capture` instead of the live system (- reads standard input; at most 4 GiB).' -rfka ''
complete -c 'dmstack' -n '__dmstack_should_offer_completions_for_flags_or_options "dmstack apply" state-dir' -l 'state-dir' -d 'Where the holder registry lives (default $DMSTACK_STATE_DIR, else /var/lib/dmstack).' -rfka ''
complete -c 'dmstack' -n '__dmstack_should_offer_completions_for_flags_or_options "dmstack apply" version' -l 'version' -d 'Show the version.'
complete -c 'dmstack' -n '__dmstack_should_offer_completions_for_flags_or_options "dmstack apply" h help' -s 'h' -l 'help' -d 'Show help information.'
complete -c 'dmstack' -n '__dmstack_should_offer_completions_for_flags_or_options "dmstack teardown" dry-run' -l 'dry-run' -d 'Print what would be unmounted and removed; change nothing.'
complete -c 'dmstack' -n '__dmstack_should_offer_completions_for_flags_or_options "dmstack teardown" force' -l 'force' -d 'Also remove dm devices that lack the DMSTACK- uuid prefix.'
complete -c 'dmstack' -n '__dmstack_should_offer_completions_for_flags_or_options "dmstack teardown" J json' -s 'J' -l 'json' -d 'Print JSON.'
complete -c 'dmstack' -n '__dmstack_should_offer_completions_for_flags_or_options "dmstack teardown" snapshot' -l 'snapshot' -d 'Read a snapshot written by `dmstack capture` instead of the live system (- reads standard input; at most 4 GiB).' -rfka ''
complete -c 'dmstack' -n '__dmstack_should_offer_completions_for_flags_or_options "dmstack teardown" state-dir' -l 'state-dir' -d 'Where the holder registry lives (default $DMSTACK_STATE_DIR, else /var/lib/dmstack).' -rfka ''
complete -c 'dmstack' -n '__dmstack_should_offer_completions_for_flags_or_options "dmstack teardown" version' -l 'version' -d 'Show the version.'
complete -c 'dmstack' -n '__dmstack_should_offer_completions_for_flags_or_options "dmstack teardown" h help' -s 'h' -l 'help' -d 'Show help information.'
complete -c 'dmstack' -n '__dmstack_should_offer_completions_for_flags_or_options "dmstack list" J json' -s 'J' -l 'json' -d 'Print JSON.'
complete -c 'dmstack' -n '__dmstack_should_offer_completions_for_flags_or_options "dmstack list" snapshot' -l 'snapshot' -d 'Read a snapshot written by `dmstack capture` instead of the live system (- reads standard input; at most 4 GiB).' -rfka ''
complete -c 'dmstack' -n '__dmstack_should_offer_completions_for_flags_or_options "dmstack list" o output' -s 'o' -l 'output' -d 'Columns to print, comma-separated (+COLUMNS adds to the default): NAME dm name; STACK the spec\'s stack; UUID dm uuid; MAJ:MIN major:minor; SIZE size; TARGETS target types of its table; STATE active, suspended, degraded, missing member and the like; MEMBERS devices its table uses; MOUNTPOINTS where it is mounted. Default: NAME,STACK,SIZE,TARGETS,STATE,MEMBERS,MOUNTPOINTS.' -rfka ''
complete -c 'dmstack' -n '__dmstack_should_offer_completions_for_flags_or_options "dmstack list" n noheadings' -s 'n' -l 'noheadings' -d 'Print no heading line.'
complete -c 'dmstack' -n '__dmstack_should_offer_completions_for_flags_or_options "dmstack list" r raw' -s 'r' -l 'raw' -d 'Raw output: cells separated by one space, blanks and other unsafe characters hex-escaped as lsblk -r does, no tree drawing, no width limit.'
complete -c 'dmstack' -n '__dmstack_should_offer_completions_for_flags_or_options "dmstack list" b bytes' -s 'b' -l 'bytes' -d 'Print sizes (and translate\'s START and LENGTH) in bytes.'
complete -c 'dmstack' -n '__dmstack_should_offer_completions_for_flags_or_options "dmstack list" ascii i' -s 'i' -l 'ascii' -d 'Use ASCII characters only (the default when the locale is not UTF-8).'
complete -c 'dmstack' -n '__dmstack_should_offer_completions_for_flags_or_options "dmstack list" state-dir' -l 'state-dir' -d 'Where the holder registry lives (default $DMSTACK_STATE_DIR, else /var/lib/dmstack).' -rfka ''
complete -c 'dmstack' -n '__dmstack_should_offer_completions_for_flags_or_options "dmstack list" version' -l 'version' -d 'Show the version.'
complete -c 'dmstack' -n '__dmstack_should_offer_completions_for_flags_or_options "dmstack list" h help' -s 'h' -l 'help' -d 'Show help information.'
complete -c 'dmstack' -n '__dmstack_should_offer_completions_for_flags_or_options "dmstack holders" version' -l 'version' -d 'Show the version.'
complete -c 'dmstack' -n '__dmstack_should_offer_completions_for_flags_or_options "dmstack holders" h help' -s 'h' -l 'help' -d 'Show help information.'
complete -c 'dmstack' -n '__dmstack_should_offer_completions_for_positional "dmstack holders" -eq 1' -fa 'register' -d 'Record a holder\'s chains: a filesystem (mountpoint, device or UUID), or a device an application uses (--raw).'
complete -c 'dmstack' -n '__dmstack_should_offer_completions_for_positional "dmstack holders" -eq 1' -fa 'list' -d 'List registered holders with their leaves and state, checked against the live system.'
complete -c 'dmstack' -n '__dmstack_should_offer_completions_for_positional "dmstack holders" -eq 1' -fa 'show' -d 'Show a holder\'s chains as a tree per leaf, checked against the live system.'
complete -c 'dmstack' -n '__dmstack_should_offer_completions_for_positional "dmstack holders" -eq 1' -fa 'unregister' -d 'Forget a holder and its history.'
complete -c 'dmstack' -n '__dmstack_should_offer_completions_for_positional "dmstack holders" -eq 1' -fa 'refresh' -d 'Re-read holders from the live system and record what changed.'
complete -c 'dmstack' -n '__dmstack_should_offer_completions_for_flags_or_options "dmstack holders register" raw' -l 'raw' -d 'A block device an application uses directly (needs --name).' -rfka ''
complete -c 'dmstack' -n '__dmstack_should_offer_completions_for_flags_or_options "dmstack holders register" name' -l 'name' -d 'The holder\'s name (required with --raw).' -rfka ''
complete -c 'dmstack' -n '__dmstack_should_offer_completions_for_flags_or_options "dmstack holders register" hook' -l 'hook' -d 'For --raw: the command to run when the device is hit (words split on blanks; never a shell).' -rfka ''
complete -c 'dmstack' -n '__dmstack_should_offer_completions_for_flags_or_options "dmstack holders register" J json' -s 'J' -l 'json' -d 'Print JSON.'
complete -c 'dmstack' -n '__dmstack_should_offer_completions_for_flags_or_options "dmstack holders register" state-dir' -l 'state-dir' -d 'Where the holder registry lives (default $DMSTACK_STATE_DIR, else /var/lib/dmstack).' -rfka ''
complete -c 'dmstack' -n '__dmstack_should_offer_completions_for_flags_or_options "dmstack holders register" version' -l 'version' -d 'Show the version.'
complete -c 'dmstack' -n '__dmstack_should_offer_completions_for_flags_or_options "dmstack holders register" h help' -s 'h' -l 'help' -d 'Show help information.'
complete -c 'dmstack' -n '__dmstack_should_offer_completions_for_flags_or_options "dmstack holders list" J json' -s 'J' -l 'json' -d 'Print JSON.'
complete -c 'dmstack' -n '__dmstack_should_offer_completions_for_flags_or_options "dmstack holders list" state-dir' -l 'state-dir' -d 'Where the holder registry lives (default $DMSTACK_STATE_DIR, else /var/lib/dmstack).' -rfka ''
complete -c 'dmstack' -n '__dmstack_should_offer_completions_for_flags_or_options "dmstack holders list" o output' -s 'o' -l 'output' -d 'Columns to print, comma-separated (+COLUMNS adds to the default): NAME holder name; KIND filesystem or raw; FILESYSTEM type and UUID; MOUNTPOINT where it is mounted; LEAVES its leaves, with their state when not present; CHAINS holder chains recorded; STATE ok, degraded or gone; REGISTERED when it was registered (UTC); REFRESHED when it was last refreshed (UTC). Default: NAME,KIND,FILESYSTEM,MOUNTPOINT,LEAVES,CHAINS,STATE.' -rfka ''
complete -c 'dmstack' -n '__dmstack_should_offer_completions_for_flags_or_options "dmstack holders list" n noheadings' -s 'n' -l 'noheadings' -d 'Print no heading line.'
complete -c 'dmstack' -n '__dmstack_should_offer_completions_for_flags_or_options "dmstack holders list" r raw' -s 'r' -l 'raw' -d 'Raw output: cells separated by one space, blanks and other unsafe characters hex-escaped as lsblk -r does, no tree drawing, no width limit.'
complete -c 'dmstack' -n '__dmstack_should_offer_completions_for_flags_or_options "dmstack holders list" b bytes' -s 'b' -l 'bytes' -d 'Print sizes (and translate\'s START and LENGTH) in bytes.'
complete -c 'dmstack' -n '__dmstack_should_offer_completions_for_flags_or_options "dmstack holders list" ascii i' -s 'i' -l 'ascii' -d 'Use ASCII characters only (the default when the locale is not UTF-8).'
complete -c 'dmstack' -n '__dmstack_should_offer_completions_for_flags_or_options "dmstack holders list" version' -l 'version' -d 'Show the version.'
complete -c 'dmstack' -n '__dmstack_should_offer_completions_for_flags_or_options "dmstack holders list" h help' -s 'h' -l 'help' -d 'Show help information.'
complete -c 'dmstack' -n '__dmstack_should_offer_completions_for_flags_or_options "dmstack holders show" J json' -s 'J' -l 'json' -d 'Print JSON.'
complete -c 'dmstack' -n '__dmstack_should_offer_completions_for_flags_or_options "dmstack holders show" state-dir' -l 'state-dir' -d 'Where the holder registry lives (default $DMSTACK_STATE_DIR, else /var/lib/dmstack).' -rfka ''
complete -c 'dmstack' -n '__dmstack_should_offer_completions_for_flags_or_options "dmstack holders show" version' -l 'version' -d 'Show the version.'
complete -c 'dmstack' -n '__dmstack_should_offer_completions_for_flags_or_options "dmstack holders show" h help' -s 'h' -l 'help' -d 'Show help information.'
complete -c 'dmstack' -n '__dmstack_should_offer_completions_for_flags_or_options "dmstack holders unregister" state-dir' -l 'state-dir' -d 'Where the holder registry lives (default $DMSTACK_STATE_DIR, else /var/lib/dmstack).' -rfka ''
complete -c 'dmstack' -n '__dmstack_should_offer_completions_for_flags_or_options "dmstack holders unregister" version' -l 'version' -d 'Show the version.'
complete -c 'dmstack' -n '__dmstack_should_offer_completions_for_flags_or_options "dmstack holders unregister" h help' -s 'h' -l 'help' -d 'Show help information.'
complete -c 'dmstack' -n '__dmstack_should_offer_completions_for_flags_or_options "dmstack holders refresh" rebuild' -l 'rebuild' -d 'Move a damaged registry aside and rebuild it.'
complete -c 'dmstack' -n '__dmstack_should_offer_completions_for_flags_or_options "dmstack holders refresh" J json' -s 'J' -l 'json' -d 'Print JSON.'
complete -c 'dmstack' -n '__dmstack_should_offer_completions_for_flags_or_options "dmstack holders refresh" state-dir' -l 'state-dir' -d 'Where the holder registry lives (default $DMSTACK_STATE_DIR, else /var/lib/dmstack).' -rfka ''
complete -c 'dmstack' -n '__dmstack_should_offer_completions_for_flags_or_options "dmstack holders refresh" version' -l 'version' -d 'Show the version.'
complete -c 'dmstack' -n '__dmstack_should_offer_completions_for_flags_or_options "dmstack holders refresh" h help' -s 'h' -l 'help' -d 'Show help information.'
complete -c 'dmstack' -n '__dmstack_should_offer_completions_for_flags_or_options "dmstack remove" dry-run' -l 'dry-run' -d 'Print the plan; change nothing, send nothing.'
complete -c 'dmstack' -n '__dmstack_should_offer_completions_for_flags_or_options "dmstack remove" kill' -l 'kill' -d 'What the processes that map or hold a lost file get: none, term (SIGTERM) or bus (SIGBUS, as the kernel would).' -rfka 'none term bus'
complete -c 'dmstack' -n '__dmstack_should_offer_completions_for_flags_or_options "dmstack remove" wait' -l 'wait' -d 'Seconds an unmount keeps retrying while processes let go.' -rfka ''
complete -c 'dmstack' -n '__dmstack_should_offer_completions_for_flags_or_options "dmstack remove" yes' -l 'yes' -d 'Go ahead without asking (needed without a terminal).'
complete -c 'dmstack' -n '__dmstack_should_offer_completions_for_flags_or_options "dmstack remove" force' -l 'force' -d 'Also remove dm devices above the leaf that lack the DMSTACK- uuid prefix.'
complete -c 'dmstack' -n '__dmstack_should_offer_completions_for_flags_or_options "dmstack remove" J json' -s 'J' -l 'json' -d 'Print JSON.'
complete -c 'dmstack' -n '__dmstack_should_offer_completions_for_flags_or_options "dmstack remove"' -l 'thin-dump' -d 'thin_dump XML of the thin pool device POOL, or its metadata device (or an image of it; a dump of at most 4 GiB), checked against the pool\'s table and its thin devices. A live pool is read without it.' -rfka ''
complete -c 'dmstack' -n '__dmstack_should_offer_completions_for_flags_or_options "dmstack remove"' -l 'cache-dump' -d 'cache_dump XML of the cache device CACHE, checked against its table and the sizes of its cache and origin devices.' -rfka ''
complete -c 'dmstack' -n '__dmstack_should_offer_completions_for_flags_or_options "dmstack remove"' -l 'snapshot-store' -d 'COW device (or image) of the snapshot device SNAP.' -rfka ''
complete -c 'dmstack' -n '__dmstack_should_offer_completions_for_flags_or_options "dmstack remove"' -l 'writecache-metadata' -d 'Cache device (or image) of the writecache device WC.' -rfka ''
complete -c 'dmstack' -n '__dmstack_should_offer_completions_for_flags_or_options "dmstack remove"' -l 'integrity-superblock' -d 'Data device (or image) of the dm-integrity device INT, whose superblock gives its layout.' -rfka ''
complete -c 'dmstack' -n '__dmstack_should_offer_completions_for_flags_or_options "dmstack remove" config' -l 'config' -d 'dmstack\'s configuration: notification sinks, retry policy (default $DMSTACK_CONFIG, else /etc/dmstack/config.yaml, else the journal).' -rfka ''
complete -c 'dmstack' -n '__dmstack_should_offer_completions_for_flags_or_options "dmstack remove" state-dir' -l 'state-dir' -d 'Where the holder registry lives (default $DMSTACK_STATE_DIR, else /var/lib/dmstack).' -rfka ''
complete -c 'dmstack' -n '__dmstack_should_offer_completions_for_flags_or_options "dmstack remove" version' -l 'version' -d 'Show the version.'
complete -c 'dmstack' -n '__dmstack_should_offer_completions_for_flags_or_options "dmstack remove" h help' -s 'h' -l 'help' -d 'Show help information.'
complete -c 'dmstack' -n '__dmstack_should_offer_completions_for_flags_or_options "dmstack monitor" once' -l 'once' -d 'One pass, then exit.'
complete -c 'dmstack' -n '__dmstack_should_offer_completions_for_flags_or_options "dmstack monitor" J json' -s 'J' -l 'json' -d 'Print each new event as one line of JSON.'
complete -c 'dmstack' -n '__dmstack_should_offer_completions_for_flags_or_options "dmstack monitor" metrics-file' -l 'metrics-file' -d 'After each pass, write `dmstack metrics` to this file (atomically; for node_exporter\'s textfile collector the name must end in .prom).' -rfka ''
complete -c 'dmstack' -n '__dmstack_should_offer_completions_for_flags_or_options "dmstack monitor" config' -l 'config' -d 'dmstack\'s configuration: notification sinks, retry policy (default $DMSTACK_CONFIG, else /etc/dmstack/config.yaml, else the journal).' -rfka ''
complete -c 'dmstack' -n '__dmstack_should_offer_completions_for_flags_or_options "dmstack monitor" state-dir' -l 'state-dir' -d 'Where the holder registry lives (default $DMSTACK_STATE_DIR, else /var/lib/dmstack).' -rfka ''
complete -c 'dmstack' -n '__dmstack_should_offer_completions_for_flags_or_options "dmstack monitor" version' -l 'version' -d 'Show the version.'
complete -c 'dmstack' -n '__dmstack_should_offer_completions_for_flags_or_options "dmstack monitor" h help' -s 'h' -l 'help' -d 'Show help information.'
complete -c 'dmstack' -n '__dmstack_should_offer_completions_for_flags_or_options "dmstack events" version' -l 'version' -d 'Show the version.'
complete -c 'dmstack' -n '__dmstack_should_offer_completions_for_flags_or_options "dmstack events" h help' -s 'h' -l 'help' -d 'Show help information.'
complete -c 'dmstack' -n '__dmstack_should_offer_completions_for_positional "dmstack events" -eq 1' -fa 'list' -d 'List the events in the outbox, oldest first, with each sink\'s delivery state.'
complete -c 'dmstack' -n '__dmstack_should_offer_completions_for_positional "dmstack events" -eq 1' -fa 'retry' -d 'Deliver every undelivered event now (pending or failed), whatever the backoff says.'
complete -c 'dmstack' -n '__dmstack_should_offer_completions_for_positional "dmstack events" -eq 1' -fa 'test' -d 'Record a test event and dispatch it: checks that the configured sinks work.'
complete -c 'dmstack' -n '__dmstack_should_offer_completions_for_positional "dmstack events" -eq 1' -fa 'prune' -d 'Delete the delivered events older than a duration from the outbox.'
complete -c 'dmstack' -n '__dmstack_should_offer_completions_for_flags_or_options "dmstack events list" J json' -s 'J' -l 'json' -d 'Print JSON.'
complete -c 'dmstack' -n '__dmstack_should_offer_completions_for_flags_or_options "dmstack events list" limit' -l 'limit' -d 'At most this many events, the newest.' -rfka ''
complete -c 'dmstack' -n '__dmstack_should_offer_completions_for_flags_or_options "dmstack events list" state-dir' -l 'state-dir' -d 'Where the holder registry lives (default $DMSTACK_STATE_DIR, else /var/lib/dmstack).' -rfka ''
complete -c 'dmstack' -n '__dmstack_should_offer_completions_for_flags_or_options "dmstack events list" o output' -s 'o' -l 'output' -d 'Columns to print, comma-separated (+COLUMNS adds to the default): CREATED when the event was recorded (UTC); KIND event kind; SEVERITY severity; LEAF the leaf it is about; SUMMARY one line about it; SINK where it goes; STATE pending, delivered or failed; TRIES delivery attempts; KEY the event\'s idempotency key; LAST-ERROR why the last attempt failed. Default: CREATED,KIND,SEVERITY,LEAF,SINK,STATE,TRIES,KEY,LAST-ERROR.' -rfka ''
complete -c 'dmstack' -n '__dmstack_should_offer_completions_for_flags_or_options "dmstack events list" n noheadings' -s 'n' -l 'noheadings' -d 'Print no heading line.'
complete -c 'dmstack' -n '__dmstack_should_offer_completions_for_flags_or_options "dmstack events list" r raw' -s 'r' -l 'raw' -d 'Raw output: cells separated by one space, blanks and other unsafe characters hex-escaped as lsblk -r does, no tree drawing, no width limit.'
complete -c 'dmstack' -n '__dmstack_should_offer_completions_for_flags_or_options "dmstack events list" b bytes' -s 'b' -l 'bytes' -d 'Print sizes (and translate\'s START and LENGTH) in bytes.'
complete -c 'dmstack' -n '__dmstack_should_offer_completions_for_flags_or_options "dmstack events list" ascii i' -s 'i' -l 'ascii' -d 'Use ASCII characters only (the default when the locale is not UTF-8).'
complete -c 'dmstack' -n '__dmstack_should_offer_completions_for_flags_or_options "dmstack events list" version' -l 'version' -d 'Show the version.'
complete -c 'dmstack' -n '__dmstack_should_offer_completions_for_flags_or_options "dmstack events list" h help' -s 'h' -l 'help' -d 'Show help information.'
complete -c 'dmstack' -n '__dmstack_should_offer_completions_for_flags_or_options "dmstack events retry" config' -l 'config' -d 'dmstack\'s configuration: notification sinks, retry policy (default $DMSTACK_CONFIG, else /etc/dmstack/config.yaml, else the journal).' -rfka ''
complete -c 'dmstack' -n '__dmstack_should_offer_completions_for_flags_or_options "dmstack events retry" state-dir' -l 'state-dir' -d 'Where the holder registry lives (default $DMSTACK_STATE_DIR, else /var/lib/dmstack).' -rfka ''
complete -c 'dmstack' -n '__dmstack_should_offer_completions_for_flags_or_options "dmstack events retry" version' -l 'version' -d 'Show the version.'
complete -c 'dmstack' -n '__dmstack_should_offer_completions_for_flags_or_options "dmstack events retry" h help' -s 'h' -l 'help' -d 'Show help information.'
complete -c 'dmstack' -n '__dmstack_should_offer_completions_for_flags_or_options "dmstack events test" message' -l 'message' -d 'A word in the event\'s summary.' -rfka ''
complete -c 'dmstack' -n '__dmstack_should_offer_completions_for_flags_or_options "dmstack events test" config' -l 'config' -d 'dmstack\'s configuration: notification sinks, retry policy (default $DMSTACK_CONFIG, else /etc/dmstack/config.yaml, else the journal).' -rfka ''
complete -c 'dmstack' -n '__dmstack_should_offer_completions_for_flags_or_options "dmstack events test" state-dir' -l 'state-dir' -d 'Where the holder registry lives (default $DMSTACK_STATE_DIR, else /var/lib/dmstack).' -rfka ''
complete -c 'dmstack' -n '__dmstack_should_offer_completions_for_flags_or_options "dmstack events test" version' -l 'version' -d 'Show the version.'
complete -c 'dmstack' -n '__dmstack_should_offer_completions_for_flags_or_options "dmstack events test" h help' -s 'h' -l 'help' -d 'Show help information.'
complete -c 'dmstack' -n '__dmstack_should_offer_completions_for_flags_or_options "dmstack events prune" older-than' -l 'older-than' -d 'Age, like 12h, 7d, 90m.' -rfka ''
complete -c 'dmstack' -n '__dmstack_should_offer_completions_for_flags_or_options "dmstack events prune" state-dir' -l 'state-dir' -d 'Where the holder registry lives (default $DMSTACK_STATE_DIR, else /var/lib/dmstack).' -rfka ''
complete -c 'dmstack' -n '__dmstack_should_offer_completions_for_flags_or_options "dmstack events prune" version' -l 'version' -d 'Show the version.'
complete -c 'dmstack' -n '__dmstack_should_offer_completions_for_flags_or_options "dmstack events prune" h help' -s 'h' -l 'help' -d 'Show help information.'
complete -c 'dmstack' -n '__dmstack_should_offer_completions_for_flags_or_options "dmstack damage" version' -l 'version' -d 'Show the version.'
complete -c 'dmstack' -n '__dmstack_should_offer_completions_for_flags_or_options "dmstack damage" h help' -s 'h' -l 'help' -d 'Show help information.'
complete -c 'dmstack' -n '__dmstack_should_offer_completions_for_positional "dmstack damage" -eq 1' -fa 'list' -d 'List the damage recorded and not cleared (the default subcommand).'
complete -c 'dmstack' -n '__dmstack_should_offer_completions_for_positional "dmstack damage" -eq 1' -fa 'clear' -d 'Clear damage by hand: a file\'s entries (PATH), a filesystem\'s (its UUID or mountpoint), or --all.'
complete -c 'dmstack' -n '__dmstack_should_offer_completions_for_flags_or_options "dmstack damage list" all' -l 'all' -d 'Include the entries already cleared, with when and why.'
complete -c 'dmstack' -n '__dmstack_should_offer_completions_for_flags_or_options "dmstack damage list" check' -l 'check' -d 'Check every entry first (files by FIEMAP, conditions against the machine), as a monitor pass does.'
complete -c 'dmstack' -n '__dmstack_should_offer_completions_for_flags_or_options "dmstack damage list" J json' -s 'J' -l 'json' -d 'Print JSON.'
complete -c 'dmstack' -n '__dmstack_should_offer_completions_for_flags_or_options "dmstack damage list" config' -l 'config' -d 'dmstack\'s configuration: notification sinks, retry policy (default $DMSTACK_CONFIG, else /etc/dmstack/config.yaml, else the journal).' -rfka ''
complete -c 'dmstack' -n '__dmstack_should_offer_completions_for_flags_or_options "dmstack damage list" state-dir' -l 'state-dir' -d 'Where the holder registry lives (default $DMSTACK_STATE_DIR, else /var/lib/dmstack).' -rfka ''
complete -c 'dmstack' -n '__dmstack_should_offer_completions_for_flags_or_options "dmstack damage list" o output' -s 'o' -l 'output' -d 'Columns to print, comma-separated (+COLUMNS adds to the default): FS the filesystem\'s mountpoint (its UUID when it had none); UUID the filesystem\'s UUID; KIND file, metadata or device; DEVICE the filesystem\'s device, or the device damaged; WHAT data, the metadata kind, or bad range, removed, degraded; PATH the file, as last found by its handle; INODE the file\'s inode; GEN the inode\'s generation; OFFSET first byte damaged; LENGTH bytes damaged; RECORDED when the event recorded it (UTC); CLEARED when it was cleared (UTC), - while damaged; REASON why it was cleared; EVENT the event\'s key. Default: FS,KIND,WHAT,PATH,OFFSET,LENGTH,DEVICE,RECORDED,CLEARED,REASON.' -rfka ''
complete -c 'dmstack' -n '__dmstack_should_offer_completions_for_flags_or_options "dmstack damage list" n noheadings' -s 'n' -l 'noheadings' -d 'Print no heading line.'
complete -c 'dmstack' -n '__dmstack_should_offer_completions_for_flags_or_options "dmstack damage list" r raw' -s 'r' -l 'raw' -d 'Raw output: cells separated by one space, blanks and other unsafe characters hex-escaped as lsblk -r does, no tree drawing, no width limit.'
complete -c 'dmstack' -n '__dmstack_should_offer_completions_for_flags_or_options "dmstack damage list" b bytes' -s 'b' -l 'bytes' -d 'Print sizes (and translate\'s START and LENGTH) in bytes.'
complete -c 'dmstack' -n '__dmstack_should_offer_completions_for_flags_or_options "dmstack damage list" ascii i' -s 'i' -l 'ascii' -d 'Use ASCII characters only (the default when the locale is not UTF-8).'
complete -c 'dmstack' -n '__dmstack_should_offer_completions_for_flags_or_options "dmstack damage list" version' -l 'version' -d 'Show the version.'
complete -c 'dmstack' -n '__dmstack_should_offer_completions_for_flags_or_options "dmstack damage list" h help' -s 'h' -l 'help' -d 'Show help information.'
complete -c 'dmstack' -n '__dmstack_should_offer_completions_for_flags_or_options "dmstack damage clear" all' -l 'all' -d 'Clear everything.'
complete -c 'dmstack' -n '__dmstack_should_offer_completions_for_flags_or_options "dmstack damage clear" config' -l 'config' -d 'dmstack\'s configuration: notification sinks, retry policy (default $DMSTACK_CONFIG, else /etc/dmstack/config.yaml, else the journal).' -rfka ''
complete -c 'dmstack' -n '__dmstack_should_offer_completions_for_flags_or_options "dmstack damage clear" state-dir' -l 'state-dir' -d 'Where the holder registry lives (default $DMSTACK_STATE_DIR, else /var/lib/dmstack).' -rfka ''
complete -c 'dmstack' -n '__dmstack_should_offer_completions_for_flags_or_options "dmstack damage clear" version' -l 'version' -d 'Show the version.'
complete -c 'dmstack' -n '__dmstack_should_offer_completions_for_flags_or_options "dmstack damage clear" h help' -s 'h' -l 'help' -d 'Show help information.'
complete -c 'dmstack' -n '__dmstack_should_offer_completions_for_flags_or_options "dmstack metrics" state-dir' -l 'state-dir' -d 'Where the holder registry lives (default $DMSTACK_STATE_DIR, else /var/lib/dmstack).' -rfka ''
complete -c 'dmstack' -n '__dmstack_should_offer_completions_for_flags_or_options "dmstack metrics" version' -l 'version' -d 'Show the version.'
complete -c 'dmstack' -n '__dmstack_should_offer_completions_for_flags_or_options "dmstack metrics" h help' -s 'h' -l 'help' -d 'Show help information.'
complete -c 'dmstack' -n '__dmstack_should_offer_completions_for_flags_or_options "dmstack version" version' -l 'version' -d 'Show the version.'
complete -c 'dmstack' -n '__dmstack_should_offer_completions_for_flags_or_options "dmstack version" h help' -s 'h' -l 'help' -d 'Show help information.'
complete -c 'dmstack' -n '__dmstack_should_offer_completions_for_flags_or_options "dmstack help" version' -l 'version' -d 'Show the version.'
