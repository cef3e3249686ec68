#!/usr/bin/env python3
"""Adds up `epsim campaign` resume files (--resume FILE) unit by unit into the table of
docs/findings.md: python3 docs/campaign-table.py [sc:]FILE... (sc:FILE takes only its sc
units; a later file's unit replaces an earlier one's). Prints the table on stdout, the totals
and every generated program with a report on stderr."""
import json, collections, sys
# arguments: FILE or sc:FILE (only its sc units); later files override earlier ones
units = {}
for arg in sys.argv[1:]:
    only_sc = arg.startswith('sc:')
    f = arg[3:] if only_sc else arg
    for l in open(f):
        u = json.loads(l)
        if 'program' not in u: continue
        if only_sc and u['model'] != 'sc': continue
        units[(u['program'], u['kernel'], u['model'])] = u
kernels = ['6192bd536f96', '2.6.21', '2.6.22', '6.18']; models = ['sc', 'tso', 'pso']
print('| kernel | model | units | skipped | runs | exhaustive | in bounds | dpor cut → pct | unexpected reports (units) | findings (units) | expected report missing (units) |')
print('| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | --- | --- | --- |')
tot = collections.Counter()
def fmt(c): return ', '.join(f'{k} {v}' for k, v in sorted(c.items())) or '—'
for k in kernels:
    for m in models:
        us = [u for (p, kk, mm), u in units.items() if kk == k and mm == m]
        r = collections.Counter(); rep = collections.Counter(); fi = collections.Counter(); miss = collections.Counter()
        for u in us:
            r['units'] += 1
            if u['skipped'] is not None: r['skipped'] += 1; continue
            r['runs'] += u['runs']
            s = u['search']
            r['ex' if s == 'exhaustive' else 'ib' if s == 'complete within bounds' else 'cut'] += 1
            for kind in u['reports']: rep[kind] += 1
            for kind in u['findings']: fi[kind] += 1
            for kind in u['expected_missing']: miss[kind] += 1
        tot.update(r)
        print(f"| {k} | {m} | {r['units']} | {r['skipped']} | {r['runs']:,} | {r['ex']} | {r['ib']} | {r['cut']} | {fmt(rep)} | {fmt(fi)} | {fmt(miss)} |")
print(dict(tot), file=sys.stderr)
# generated programs with reports
g = collections.defaultdict(list)
for (p, k, m), u in sorted(units.items()):
    if (p.startswith('pair-') or p.startswith('triple-')) and (u['reports'] or u['findings']):
        g[(tuple(sorted(u['reports'])), tuple(sorted(u['findings'])), k)].append((p, m))
for key, v in sorted(g.items()):
    print(key, len(v), file=sys.stderr)
    for p, m in v[:40]: print('   ', p, m, file=sys.stderr)
