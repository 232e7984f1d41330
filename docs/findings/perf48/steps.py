#!/usr/bin/env python3
"""perf48: byfn.py's output (depth 2) grouped into a probe's steps, a probe. usage: byfn.py ... | steps.py"""
import sys, re, collections
steps = collections.OrderedDict((k, 0.0) for k in [
    'header', 'key word', 'fences', 'slot search', 'found entry', 'answer', 'prefetch', 'rest'])
total = None
for l in sys.stdin:
    m = re.match(r'total ([\d.]+) a call', l)
    if m: total = float(m.group(1)); continue
    m = re.match(r'\s*([\d.]+)\s+(.*)$', l)
    if not m: continue
    v, path = float(m.group(1)), m.group(2)
    top = path.split(' > ')
    if top[0] == 'read': k = 'header'
    elif top[0] == 'new': k = 'key word'
    elif top[0] == 'covers': k = 'fences'
    elif top[0] == 'prefetch': k = 'prefetch'
    elif top[0] == 'search_after':
        k = {'search_slots': 'slot search', 'value_of': 'found entry', 'within': 'found entry',
             'child_at': 'answer'}.get(top[1] if len(top) > 1 else '', 'answer')
    else: k = 'rest'
    steps[k] += v
print(f'total {total}; shown {sum(steps.values()):.1f} (lines under 0.5 a probe left out)')
for k, v in steps.items(): print(f'{k:12s} {v:6.1f}')
