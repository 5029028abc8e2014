#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# The bash completion (packaging/lockstep.bash-completion): what it offers for a
# few partial command lines, in a fresh non-interactive bash.
set -u
file=$1
fail=0
expect() {  # expect "WANTED REPLY" words...
    local want=$1; shift
    local got
    got=$(bash --norc --noprofile -c '
        source "$0" || exit 9
        COMP_WORDS=("${@}"); COMP_CWORD=$((${#COMP_WORDS[@]} - 1)); COMPREPLY=()
        _lockstep
        echo "${COMPREPLY[*]}"' "$file" "$@")
    if [[ $got != "$want" ]]; then
        echo "FAIL: [$*] gave '$got', expected '$want'"; fail=1
    else
        echo "ok: [$*] -> $got"
    fi
}
expect "serve" lockstep se
expect "--psk --psk-id" lockstep serve --ps
expect "cert cert+psk" lockstep request 127.0.0.1:7400 --mode c
expect "issue show revoke" lockstep cert ""
expect "revoke rotate-psk" lockstep device r
expect "server client" lockstep cert issue --role ""
expect "strict tolerant" lockstep serve --policy ""
expect "text json" lockstep serve --log-format ""
got=$(bash --norc --noprofile -c 'source "$0"; complete -p lockstep' "$file")
[[ $got == "complete -F _lockstep lockstep" ]] || { echo "FAIL: complete -p: $got"; fail=1; }
exit $fail
