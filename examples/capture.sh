#!/usr/bin/env bash
# Rebuilds the example snapshots in examples/ (`make examples`, as root): boots the test VM,
# builds each example stack of Tests/VM/stacks.sh for real, captures it with
# `dmstack capture`, tears it down. Needs a built dmstack (swift build).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
source "$root/Tests/VM/vm.sh"
work=$(mktemp -d /tmp/dmstack-examples-XXXXXX)
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/out"
names=(pmem-linear-striped raid1-raid5-loop crypt-over-linear thin-pool xfs-external-log)
cat > "$work/out/guest.sh" <<GUEST
set -u
exec > $work/out/guest.log 2>&1
source $root/Tests/VM/prepare.sh
n=1
for name in ${names[*]}; do
    if bash $root/Tests/VM/stacks.sh up \$n /tmp/dmstack-mnt; then
        $root/.build/debug/dmstack capture --reverse-maps all -o $work/out/\$name.json && echo "captured \$name"
    else
        echo "FAILED to build stack \$n (\$name)"
    fi
    bash $root/Tests/VM/stacks.sh down \$n
    n=\$((n + 1))
done
touch $work/out/done
GUEST
boot_vm "$work" "$work/out" "bash $work/out/guest.sh"
cat "$work/out/guest.log" 2>/dev/null | grep -E 'captured|FAILED|note' || true
[ -f "$work/out/done" ] || { echo "examples: the VM did not finish"; tail -30 "$work/console.log"; exit 1; }
for name in "${names[@]}"; do
    [ -f "$work/out/$name.json" ] || { echo "examples: $name was not captured"; exit 1; }
    cp "$work/out/$name.json" "$root/examples/$name.json"
done
echo "examples: wrote ${names[*]/%/.json} in examples/"
