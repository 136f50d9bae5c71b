# shellcheck shell=bash
# Sourced: apt_mirror SUITE prints the first archive URI this machine's apt uses for a Debian
# suite, from deb822 .sources files or one-line sources.list entries (no `apt-get update` needed).
# Tools that fetch Debian packages use it so that no mirror's host name is ever written down.
# Returns 1, printing nothing, when apt has no source for the suite; the caller says what to do.
apt_mirror() {
    local suite=$1 file uri
    for file in /etc/apt/sources.list.d/*.sources; do
        [[ -f "$file" ]] || continue
        uri="$(awk -v suite="$suite" '
            /^URIs:/ { uris = $2 }
            /^Suites:/ { for (i = 2; i <= NF; i++) if ($i == suite) found = 1 }
            /^$/ { if (found && uris) { print uris; printed = 1; exit } found = 0; uris = "" }
            END { if (!printed && found && uris) print uris }' "$file")"
        [[ -n "$uri" ]] && { echo "$uri"; return 0; }
    done
    for file in /etc/apt/sources.list /etc/apt/sources.list.d/*.list; do
        [[ -f "$file" ]] || continue
        uri="$(awk -v suite="$suite" '$1 == "deb" && $3 == suite { print $2; exit }' "$file")"
        [[ -n "$uri" ]] && { echo "$uri"; return 0; }
    done
    return 1
}
