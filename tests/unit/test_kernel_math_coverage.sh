#!/usr/bin/env bash
# test_kernel_math_coverage.sh — proves that the GPU's math is the CPU-tested math (DESIGN §5,
# issue 4 "Done when" 3). kernels/KERNEL_MATH.txt lists every GM_HD function of kernels/*_math.h
# that the CUDA kernels use. Checked here, from the sources alone (no GPU, no build, no python):
#   (a) the list is exact: every GM_HD function a kernels/*.cu file calls, directly or through
#       another GM_HD function, is listed, and every listed name is such a function (no stale entry);
#   (b) every listed function is called by the CPU side (host/cpu/, and explain/, weights/, host/*.c
#       for post-processing and preprocessing math), directly or through another shared function,
#       and that CPU code is exercised by a unit test: the function is reachable in the call graph
#       from what tests/unit/ calls (functions by name, backend ops through the CPU ops table);
#   (c) the .cu files compute no floating-point math of their own: no libm function or CUDA
#       arithmetic intrinsic (exp, tanh, __fmul_rn, ...) appears in them, only the shared functions.
# Comments and string literals are stripped before any name is matched. Usage: [SOURCE_ROOT]
# (default $GM_SOURCE_DIR, else the tree this script sits in). Exit 0 pass, 1 offenders listed.
set -euo pipefail

root=${1:-${GM_SOURCE_DIR:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}}
list=$root/kernels/KERNEL_MATH.txt
shopt -s nullglob
math=("$root"/kernels/*_math.h)
cu=("$root"/kernels/*.cu)
cpu=("$root"/host/cpu/*.c "$root"/host/cpu/*.h "$root"/host/*.c "$root"/explain/*.c "$root"/weights/*.c)
unit=("$root"/tests/unit/*.c "$root"/tests/unit/*.h)

if [ ${#math[@]} -eq 0 ] || [ ${#cu[@]} -eq 0 ]; then
  echo "SKIP: no kernels/*_math.h or kernels/*.cu under $root"
  exit 77
fi
if [ ! -f "$list" ]; then
  echo "FAIL: $list is missing"
  exit 1
fi

echo "kernel math coverage under $root"
echo "  list:        kernels/KERNEL_MATH.txt"
echo "  math:        ${#math[@]} headers kernels/*_math.h"
echo "  kernels:     ${#cu[@]} files kernels/*.cu"
echo "  CPU side:    ${#cpu[@]} files host/cpu/*, host/*.c, explain/*.c, weights/*.c"
echo "  unit tests:  ${#unit[@]} files tests/unit/*.c, *.h"

# One awk pass over every file. Each file is reduced to code (comments and literals blanked), then
# split into top-level function definitions; every identifier inside a body is an edge of the call
# graph (function pointers and ops tables count as references too), and "ops->NAME(" is an edge to
# the backend op NAME, which the CPU ops table (".NAME = gm_cpu_...") maps to its implementation.
# (c): calls of libm functions and CUDA arithmetic intrinsics; conversions (__float2half_rn,
# __half2float, __int_as_float ...) are not arithmetic and stay allowed.
fns='expf?|exp2f?|expm1f?|logf?|log2f?|log10f?|log1pf?|sqrtf?|rsqrtf?|cbrtf?|powf?|fmaf?|tanhf?|sinhf?|coshf?'
fns+='|sinf?|cosf?|tanf?|erff?|fabsf?|fminf?|fmaxf?|floorf?|ceilf?|roundf?|truncf?|__expf|__logf|__powf'
fns+='|__sinf|__cosf|__tanf|__exp10f|__log2f|__fdividef|__saturatef|__fma_r[nzud]'
fns+='|__f(add|sub|mul|div|ma|rcp|sqrt)_r[nzud]|__d(add|sub|mul|div|rcp|sqrt)_r[nzud]'
deny="(^|[^A-Za-z_0-9])($fns)[ \t]*\\("
status=0
awk -v root="$root" -v list="$list" -v deny="$deny" '
function kind(f) {
  if (f ~ /\/kernels\/[^\/]*_math\.h$/) return "M"
  if (f ~ /\/kernels\/[^\/]*\.cu$/) return "U"
  if (f ~ /\/tests\/unit\//) return "T"
  return "C"
}
function rel(f) { return substr(f, length(root) + 2) }
# Blanks comments, string and character literals of one line; in_comment carries across lines.
function strip(s,    out, i, c, n, j) {
  out = ""; n = length(s); i = 1
  while (i <= n) {
    if (in_comment) {
      j = index(substr(s, i), "*/")
      if (j == 0) return out
      i += j + 1; in_comment = 0; out = out " "; continue
    }
    c = substr(s, i, 1)
    if (c == "/" && substr(s, i + 1, 1) == "*") { in_comment = 1; i += 2; continue }
    if (c == "/" && substr(s, i + 1, 1) == "/") return out
    if (c == "\"" || c == "\047") {
      j = i + 1
      while (j <= n && substr(s, j, 1) != c) j += (substr(s, j, 1) == "\\") ? 2 : 1
      out = out c c; i = j + 1; continue
    }
    out = out c; i++
  }
  return out
}
FNR == 1 { k = kind(FILENAME); in_comment = 0; depth = 0; cur = ""; pending = ""; nfiles[k]++ }
{
  line = strip($0)
  if (line ~ /^[ \t]*#/) next
  if (k == "U" && line ~ deny) { own_math[++n_own] = rel(FILENAME) ":" FNR ": " line }
  # Backend op implementations of the CPU ops table.
  if (k == "C") {
    s = line
    while (match(s, /\.[a-z_0-9]+[ \t]*=[ \t]*gm_cpu_[a-z_0-9]+/)) {
      t = substr(s, RSTART + 1, RLENGTH - 1); split(t, kv, /[ \t]*=[ \t]*/)
      opimpl[kv[1]] = kv[2]; s = substr(s, RSTART + RLENGTH)
    }
  }
  # A definition starts at depth 0 on a line beginning with an identifier and holding "(".
  if (depth == 0 && line ~ /^[A-Za-z_]/ && index(line, "(")) {
    pre = substr(line, 1, index(line, "(") - 1)
    if (match(pre, /[A-Za-z_][A-Za-z_0-9]*[ \t]*$/)) {
      pending = substr(pre, RSTART, RLENGTH); sub(/[ \t]+$/, "", pending)
      if (k == "M" && line ~ /(^|[ \t])GM_HD([ \t]|$)/) { ismath[pending] = rel(FILENAME) }
    }
  }
  # Braces and identifiers (and ops->NAME) left to right: a "{" at depth 0 opens the pending
  # definition, a ";" at depth 0 ends a declaration, and an identifier inside a body is an edge
  # from that function. extern "C" { blocks do not count as a body.
  if (line ~ /^[ \t]*extern[ \t]*""[ \t]*\{/) next
  s = line
  while (match(s, /[{};]|(ops->)?[A-Za-z_][A-Za-z_0-9]*[ \t]*\(?/)) {
    tok = substr(s, RSTART, RLENGTH); s = substr(s, RSTART + RLENGTH)
    if (tok == "{") { if (depth == 0) { cur = pending; pending = "" } depth++; continue }
    if (tok == "}") { if (depth > 0) depth--; if (depth == 0) cur = ""; continue }
    if (tok == ";") { if (depth == 0) pending = ""; continue }
    call = (tok ~ /\($/); gsub(/[ \t(]/, "", tok)
    if (tok ~ /^ops->/) { tok = "op:" substr(tok, 6) }
    if (k == "T") { if (!(tok in root_file)) root_file[tok] = rel(FILENAME); continue }
    if (k == "U") { if (call && !(tok in cu_file)) cu_file[tok] = rel(FILENAME); continue }
    if (depth > 0 && cur != "" && tok != cur) {
      key = cur SUBSEP tok
      if (!(key in edge)) { edge[key] = 1; adj[cur] = adj[cur] " " tok }
      if (k == "C" && !(tok in cpu_file)) cpu_file[tok] = rel(FILENAME) " (in " cur ")"
    }
  }
}
# Closure of a set (in[]) over the graph, restricted to math functions.
function math_closure(seed, out,    q, head, tail, f, m, nb, j) {
  head = 1; tail = 0
  for (f in seed) if (f in ismath) { out[f] = seed[f]; q[++tail] = f }
  while (head <= tail) {
    f = q[head++]; m = split(adj[f], nb, " ")
    for (j = 1; j <= m; j++) if ((nb[j] in ismath) && !(nb[j] in out)) { out[nb[j]] = "via " f; q[++tail] = nb[j] }
  }
}
END {
  bad = 0
  while ((getline ln < list) > 0) {
    sub(/#.*/, "", ln); gsub(/[ \t\r]/, "", ln)
    if (ln == "") continue
    if (ln in listed) { print "FAIL (a) " ln ": listed twice"; bad++ }
    listed[ln] = 1; order[++nlisted] = ln
  }
  close(list)
  nm = 0; for (f in ismath) nm++
  printf "  %d GM_HD functions defined, %d listed\n", nm, nlisted

  # (a) the .cu side.
  for (f in cu_file) if (f in ismath) cu_seed[f] = "called in " cu_file[f]
  math_closure(cu_seed, cu_all)
  print "(a) GM_HD functions used by kernels/*.cu against kernels/KERNEL_MATH.txt"
  for (f in cu_all) if (!(f in listed)) { print "FAIL (a) " f " (" ismath[f] "): " cu_all[f] ", missing from KERNEL_MATH.txt"; bad++ }
  for (i = 1; i <= nlisted; i++) {
    f = order[i]
    if (!(f in ismath)) { print "FAIL (a) " f ": listed, but not a GM_HD function of kernels/*_math.h"; bad++ }
    else if (!(f in cu_all)) { print "FAIL (a) " f ": listed, but no kernels/*.cu uses it (stale entry)"; bad++ }
    else print "  ok  " f ": " cu_all[f]
  }

  # (b) the CPU side, then reachability from the unit tests.
  for (f in cpu_file) if (f in ismath) cpu_seed[f] = "called in " cpu_file[f]
  math_closure(cpu_seed, cpu_all)
  for (op in opimpl) { adj["op:" op] = adj["op:" op] " " opimpl[op] }
  head = 1; tail = 0
  for (r in root_file) { dist_from[r] = root_file[r]; q[++tail] = r; parent[r] = "" }
  while (head <= tail) {
    f = q[head++]; m = split(adj[f], nb, " ")
    for (j = 1; j <= m; j++) if (!(nb[j] in parent)) { parent[nb[j]] = f; dist_from[nb[j]] = dist_from[f]; q[++tail] = nb[j] }
  }
  print "(b) each listed function: its CPU caller, and the unit test that reaches it"
  for (i = 1; i <= nlisted; i++) {
    f = order[i]
    if (!(f in ismath)) continue
    if (!(f in cpu_all)) { print "FAIL (b) " f ": no CPU code (host/cpu, explain, weights, host) calls it"; bad++; continue }
    if (!(f in parent)) { print "FAIL (b) " f ": CPU " cpu_all[f] ", but no unit test reaches that code"; bad++; continue }
    path = f; g = f
    while (parent[g] != "") { g = parent[g]; path = g " -> " path }
    print "  ok  " f ": CPU " cpu_all[f] "; unit " dist_from[f] ": " path
  }
  print "(c) kernels/*.cu compute no floating-point math of their own (no libm, no CUDA arithmetic intrinsic)"
  for (i = 1; i <= n_own; i++) { print "FAIL (c) " own_math[i]; bad++ }
  if (n_own == 0) print "  ok  none in " nfiles["U"] " .cu files"
  printf "%d offender(s)\n", bad
  exit bad ? 1 : 0
}' "${math[@]}" "${cu[@]}" "${cpu[@]}" "${unit[@]}" || status=$?

[ $status -eq 0 ] && echo "PASS kernel math coverage" || echo "FAIL kernel math coverage"
exit $status
