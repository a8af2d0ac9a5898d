# docs/man/genman.awk - a manual page from its hand-written template and
# the --help of the binaries (docs/man/README.md)
#
#   awk -v bindir=build -v version=1.2.3 -v date=2026-01-31 \
#       -f docs/man/genman.awk docs/man/parsec-fcgi.8.in > build/man/parsec-fcgi.8
#
# The settings are never written by hand: each is printed by the settings
# table of common/cfg.c through `<binary> --help`, and this program turns
# that text into roff, so a setting added to the table appears in every page
# whose binary takes it.  A template line that is exactly one of
#
#   @SETTINGS <binary> [args]@   every setting of that --help: .TP entries
#   @FLAGS <binary> [args]@      only their flags, as one filled list
#   @VARIABLES <binary> [args]@  every PARSEC_* variable named there, .TP
#                                entries pointing at the flag
#   @VERBATIM <binary> [args]@   the --help text as it is (.nf ... .fi)
#
# is replaced by that; @VERSION@ and @DATE@ anywhere are replaced by the
# values given.  <binary> is run from bindir with LC_ALL=C.  A command that
# fails, or a @SETTINGS/@FLAGS/@VARIABLES that finds no setting, is an error
# (exit status 1, a line on stderr): a page is never generated half empty.
#
# The --help layout read (common/cfg.c, cfg_usage):
#   "  --name METAVAR, -X METAVAR[  (required)]"   a setting starts
#   "      text"                                   its help, one or more lines
#   "      [variable: ...; default: ...]"          its variable and default
# and the entries end at "  --help".
#
# Plain POSIX awk (Debian's mawk): no gensub, no match() arrays.

# replace - s with every literal occurrence of from replaced by to.
function replace(s, from, to,    out, i) {
    out = ""
    while ((i = index(s, from)) > 0) {
        out = out substr(s, 1, i - 1) to
        s = substr(s, i + length(from))
    }
    return out s
}

# esc - text for roff: backslashes, a leading control character, and the
# hyphens of option-like words (--db-file) as \- so they stay ASCII minus.
function esc(s,    n, w, i, out, t) {
    s = replace(s, "\\", "\\e")
    n = split(s, w, " ")
    out = ""
    for (i = 1; i <= n; i++) {
        t = w[i]
        if (t ~ /^[("'\[]*--?[A-Za-z]/)
            t = replace(t, "-", "\\-")
        out = out (i > 1 ? " " : "") t
    }
    if (out ~ /^[.']/)
        out = "\\&" out
    return out
}

# run - the output lines of `bindir/cmd` into lines[1..n]; n returned.
function run(cmd, lines,    full, n, line, rc) {
    full = "LC_ALL=C " bindir "/" cmd " 2>&1"
    n = 0
    while ((rc = (full | getline line)) > 0)
        lines[++n] = line
    if (rc < 0 || close(full) != 0) {
        printf "genman: %s: `%s` failed\n", FILENAME, cmd > "/dev/stderr"
        failed = 1
        exit 1
    }
    return n
}

# parse - the settings of a --help text into flag[], meta[], help[]; count.
function parse(cmd,    lines, n, i, k, line, inside) {
    n = run(cmd, lines)
    k = 0
    inside = 0
    for (i = 1; i <= n; i++) {
        line = lines[i]
        if (line ~ /^  --help/)
            break
        if (line ~ /^  --[a-z]/) {
            k++
            sub(/^  /, "", line)
            flag[k] = line
            help[k] = ""
            meta[k] = ""
            inside = 1
            continue
        }
        if (!inside || line !~ /^      /)
            continue
        sub(/^ +/, "", line)
        if (line ~ /^\[/) {
            sub(/^\[/, "", line)
            sub(/\]$/, "", line)
            meta[k] = line
        } else {
            help[k] = help[k] (help[k] == "" ? "" : " ") line
        }
    }
    if (k == 0) {
        printf "genman: %s: `%s` lists no setting\n", FILENAME, cmd > "/dev/stderr"
        failed = 1
        exit 1
    }
    return k
}

# flag_roff - "--host HOST, -H HOST  (required)" with flags bold, values italic.
function flag_roff(s,    n, w, i, t, comma, out) {
    n = split(s, w, " ")
    out = ""
    for (i = 1; i <= n; i++) {
        t = w[i]
        comma = ""
        if (t ~ /,$/) {
            comma = ","
            t = substr(t, 1, length(t) - 1)
        }
        if (t ~ /^-/)
            t = "\\fB" esc(t) "\\fR"
        else if (t != "(required)")
            t = "\\fI" esc(t) "\\fR"
        out = out (i > 1 ? " " : "") t comma
    }
    return out
}

# long_flag - "--host" of "--host HOST, -H HOST".
function long_flag(s) {
    sub(/ .*/, "", s)
    return s
}

# meta_roff - "variable: PARSEC_HOST; default: 127.0.0.1" with variables bold.
function meta_roff(s,    n, w, i, t, tail, out) {
    n = split(s, w, " ")
    out = ""
    for (i = 1; i <= n; i++) {
        t = w[i]
        if (t ~ /^PARSEC_[A-Z0-9_]+[;,]?$/) {
            tail = ""
            if (t ~ /[;,]$/) {
                tail = substr(t, length(t))
                t = substr(t, 1, length(t) - 1)
            }
            t = "\\fB" t "\\fR" tail
        } else {
            t = esc(t)
        }
        out = out (i > 1 ? " " : "") t
    }
    return toupper(substr(out, 1, 1)) substr(out, 2) "."
}

# wrap - print text (words separated by single spaces) in lines of at most
# 78 bytes where words allow, none starting with a control character.
function wrap(text,    n, w, i, line, t) {
    n = split(text, w, " ")
    line = ""
    for (i = 1; i <= n; i++) {
        t = w[i]
        if (line != "" && length(line) + 1 + length(t) > 78) {
            print line
            line = ""
        }
        if (line == "" && t ~ /^[.']/)
            t = "\\&" t
        line = line (line == "" ? "" : " ") t
    }
    if (line != "")
        print line
}

function settings(cmd,    k, i) {
    split("", flag); split("", help); split("", meta)
    k = parse(cmd)
    for (i = 1; i <= k; i++) {
        print ".TP"
        print flag_roff(flag[i])
        wrap(esc(help[i]))
        if (meta[i] != "") {
            print ".br"
            wrap(meta_roff(meta[i]))
        }
    }
}

function flags(cmd,    k, i, out) {
    split("", flag); split("", help); split("", meta)
    k = parse(cmd)
    out = ""
    for (i = 1; i <= k; i++)
        out = out (i > 1 ? ",\n" : "") "\\fB" esc(long_flag(flag[i])) "\\fR"
    print out "."
}

function variables(cmd,    k, i, n, w, j, v) {
    split("", flag); split("", help); split("", meta)
    k = parse(cmd)
    for (i = 1; i <= k; i++) {
        n = split(meta[i], w, " ")
        for (j = 1; j <= n; j++) {
            v = w[j]
            sub(/[;,]$/, "", v)
            if (v !~ /^PARSEC_[A-Z0-9_]+$/)
                continue
            print ".TP"
            print ".B " v
            if (v ~ /_FILE$/)
                print "The file holding the value of \\fB" esc(long_flag(flag[i])) "\\fR."
            else
                print "Same as \\fB" esc(long_flag(flag[i])) "\\fR."
        }
    }
}

function verbatim(cmd,    lines, n, i, line) {
    n = run(cmd, lines)
    print ".PP"
    print ".nf"
    print ".in +2n"
    for (i = 1; i <= n; i++) {
        line = replace(lines[i], "\\", "\\e")
        if (line ~ /^[.']/)
            line = "\\&" line
        print line
    }
    print ".in"
    print ".fi"
}

/^@(SETTINGS|FLAGS|VARIABLES|VERBATIM) [^@]+@$/ {
    kind = $1
    sub(/^@/, "", kind)
    cmd = $0
    sub(/^@[A-Z]+ /, "", cmd)
    sub(/@$/, "", cmd)
    if (kind == "SETTINGS")
        settings(cmd)
    else if (kind == "FLAGS")
        flags(cmd)
    else if (kind == "VARIABLES")
        variables(cmd)
    else
        verbatim(cmd)
    next
}

/^@[A-Z]+[ @]/ && !/@(VERSION|DATE)@/ {
    printf "genman: %s:%d: unknown placeholder %s\n", FILENAME, FNR, $0 > "/dev/stderr"
    failed = 1
    exit 1
}

{
    line = $0
    line = replace(line, "@VERSION@", version)
    line = replace(line, "@DATE@", date)
    print line
}

END {
    if (failed)
        exit 1
}
