#!/usr/bin/env python3
"""log34: a perf record -g (cpu-clock) run's samples by thread, split into the log's kernel write path and the rest.
usage: perf script -i X.data -F comm,tid,ip,sym | kwrite.py
Classes (first match, from the stack's root side): pwrite/write syscall (and within it: page-cache allocation
of a fresh page, ext4's delayed-allocation reservation, the copy, the rest), fallocate (punch), fdatasync/fsync,
page faults outside those, other kernel, user."""
import sys, collections
WRITE = ('__x64_sys_pwrite64', '__x64_sys_write', '__x64_sys_pwritev', 'ksys_pwrite64', 'ksys_write')
ALLOC = ('filemap_add_folio', '__filemap_add_folio', 'folio_alloc', 'alloc_pages', '__alloc_pages', 'filemap_alloc_folio',
         'clear_page', 'get_page_from_freelist', 'mem_cgroup_charge', '__mem_cgroup_charge', 'lru_add', 'folio_add_lru')
DA = ('ext4_da_get_block_prep', 'ext4_da_map_blocks', 'ext4_es_insert_delayed', 'ext4_da_reserve_space')
COPY = ('copy_folio_from_iter_atomic', 'copy_page_from_iter_atomic', 'rep_movs', 'copy_user')
def classify(frames):
    syms = [f for f in frames]
    if any(s.startswith(WRITE) for s in syms):
        if any(s.startswith(ALLOC) for s in syms): return 'write: fresh page (alloc/add/charge)'
        if any(s.startswith(DA) for s in syms): return 'write: ext4 delalloc reserve'
        if any(s.startswith(COPY) for s in syms): return 'write: copy'
        return 'write: rest'
    if any(s.startswith('__x64_sys_fallocate') for s in syms): return 'fallocate (punch)'
    if any(s.startswith(('__x64_sys_fdatasync', '__x64_sys_fsync')) for s in syms): return 'fsync'
    if any('page_fault' in s for s in syms): return 'page fault'
    if any(s.startswith(('entry_SYSCALL', 'do_syscall', 'asm_', '__x64_sys', 'irq', 'sysvec')) for s in syms) or (syms and syms[0].startswith(('_raw_spin', 'native_', 'finish_task'))): return 'other kernel'
    return 'user'
per = collections.defaultdict(collections.Counter)
cur = None; frames = []
def flush():
    if cur is not None: per[cur][classify(frames)] += 1
for line in sys.stdin:
    if not line.strip():
        flush(); cur = None; frames = []; continue
    if not line.startswith((' ', '\t')):
        flush(); parts = line.split(); cur = parts[1] if len(parts) > 1 else '?'; frames = []
    else:
        p = line.split(None, 1); frames.append(p[1].strip() if len(p) > 1 else '')
flush()
classes = ['user', 'other kernel', 'page fault', 'fsync', 'fallocate (punch)', 'write: fresh page (alloc/add/charge)',
           'write: ext4 delalloc reserve', 'write: copy', 'write: rest']
tot = collections.Counter()
print('tid samples ' + ' | '.join(classes))
for tid, c in sorted(per.items(), key=lambda kv: -sum(kv[1].values())):
    n = sum(c.values()); tot.update(c)
    if n < 50: continue
    print(tid, n, ' | '.join('%.1f%%' % (100 * c[k] / n) for k in classes))
n = sum(tot.values())
print('all', n, ' | '.join('%.1f%%' % (100 * tot[k] / n) for k in classes))
