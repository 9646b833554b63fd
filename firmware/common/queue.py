"""The flash-backed store-and-forward queue.

Readings (already-encoded JSON objects, one per line) are appended to numbered segment files
`q/00000001.seg`, `q/00000002.seg`, ...; a segment is never rewritten, only deleted whole once
every reading in it has been acknowledged (or dropped). Where sending has got to is one line
appended to `q/journal` per acknowledged *batch* (segment, offset, last seq, dropped count);
the last complete line wins and the journal is compacted when it grows. So a reading costs
one append, a batch one journal line, and no sector is rewritten per reading: LittleFS
spreads the appends over its blocks (wear levelling).

Bounded: past `max_bytes` the oldest segment is deleted and its unsent readings counted in
`dropped`. Survives reset and deep sleep: all state is in the files. A torn last line from a
reset mid-write is skipped, and the next append starts a fresh segment rather than extend it.
`seq` survives too: the next one is one past the highest in the newest segment or journal.
"""

import os

from common.compat import exists, join, makedirs, size, write_atomic

JOURNAL_MAX = 2048  # bytes before the journal is compacted to its last line


def _seg_name(n):
    return "%08d.seg" % n


def _seq_of(line):
    """The `seq` of an encoded reading (`{"seq":N,...`), without parsing the JSON."""
    i = line.find(b'"seq":')
    if i < 0:
        return -1
    i += 6
    j = i
    while j < len(line) and 48 <= line[j] <= 57:
        j += 1
    return int(line[i:j]) if j > i else -1


class Queue:
    def __init__(self, root="q", segment_bytes=4096, max_bytes=262144):
        self.root = root
        self.segment_bytes = segment_bytes
        self.max_segments = max(2, max_bytes // segment_bytes)
        makedirs(root)
        self.dropped = 0  # readings lost to the bound, ever (persisted)
        self._seq = 0  # next seq to hand out
        self._load()

    # -- state ---------------------------------------------------------------------------

    def _path(self, n):
        return join(self.root, _seg_name(n))

    def _segments(self):
        out = []
        for name in os.listdir(self.root):
            if name.endswith(".seg") and len(name) == 12:
                try:
                    out.append(int(name[:8]))
                except ValueError:
                    pass
        out.sort()
        return out

    def _load(self):
        self.segs = self._segments()
        self.read_seg, self.read_off, acked_seq = 0, 0, -1
        jpath = join(self.root, "journal")
        if exists(jpath):
            with open(jpath, "rb") as f:
                for raw in f:
                    if not raw.endswith(b"\n"):
                        continue  # torn by a reset
                    parts = raw.split()
                    if len(parts) != 4:
                        continue
                    try:
                        vals = [int(p) for p in parts]
                    except ValueError:
                        continue
                    self.read_seg, self.read_off, acked_seq, self.dropped = vals
        if self.segs and self.read_seg < self.segs[0]:
            self.read_seg, self.read_off = self.segs[0], 0
        last = self._last_seq_on_flash()
        self._seq = max(acked_seq, last) + 1
        # Never append to a segment whose tail was torn: start a new one.
        self._tail_ok = True
        if self.segs:
            data = self._tail_bytes(self.segs[-1], 1)
            self._tail_ok = data in (b"", b"\n")

    def _tail_bytes(self, n, count):
        path = self._path(n)
        sz = size(path)
        if sz <= 0:
            return b""
        with open(path, "rb") as f:
            f.seek(max(0, sz - count))
            return f.read()

    def _last_seq_on_flash(self):
        """Highest seq in the newest segment that has a complete reading."""
        for n in reversed(self.segs):
            best = -1
            with open(self._path(n), "rb") as f:
                for line in f:
                    if line.endswith(b"\n"):
                        s = _seq_of(line)
                        if s > best:
                            best = s
            if best >= 0:
                return best
        return -1

    def _write_journal(self, last_seq):
        jpath = join(self.root, "journal")
        line = ("%d %d %d %d\n" % (self.read_seg, self.read_off, last_seq, self.dropped)).encode()
        if size(jpath) > JOURNAL_MAX:
            write_atomic(jpath, line)
        else:
            with open(jpath, "ab") as f:
                f.write(line)

    # -- producing -----------------------------------------------------------------------

    def next_seq(self):
        """The seq for the reading about to be appended."""
        return self._seq

    def append(self, line):
        """Store one encoded reading (bytes, no newline) carrying `next_seq()`."""
        if b"\n" in line:
            raise ValueError("a reading is one line")
        seq = _seq_of(line)
        if seq < 0:
            raise ValueError("a reading carries its seq")
        record = line + b"\n"
        if not self.segs or not self._tail_ok:
            self._new_segment()
        elif size(self._path(self.segs[-1])) + len(record) > self.segment_bytes:
            self._new_segment()
        with open(self._path(self.segs[-1]), "ab") as f:
            f.write(record)
        if seq >= self._seq:
            self._seq = seq + 1

    def _new_segment(self):
        n = self.segs[-1] + 1 if self.segs else max(1, self.read_seg)
        self.segs.append(n)
        self._tail_ok = True
        if not exists(self._path(n)):
            with open(self._path(n), "wb"):
                pass
        while len(self.segs) > self.max_segments:
            self._drop_oldest()

    def _drop_oldest(self):
        n = self.segs.pop(0)
        lost = 0
        with open(self._path(n), "rb") as f:
            if n == self.read_seg:
                f.seek(self.read_off)
            if n >= self.read_seg:
                for line in f:
                    if line.endswith(b"\n"):
                        lost += 1
        os.remove(self._path(n))
        if n >= self.read_seg:
            self.dropped += lost
            self.read_seg, self.read_off = self.segs[0], 0
            self._write_journal(self._seq - 1)

    # -- consuming -----------------------------------------------------------------------

    def peek(self, max_count=50, max_bytes=16384):
        """The oldest unsent readings: (lines, cursor). Pass the cursor to `ack()` once the
        broker has acknowledged the message that carried them. Nothing is removed here."""
        lines = []
        used = 0
        seg, off = self.read_seg, self.read_off
        for n in self.segs:
            if n < seg:
                continue
            if n > seg:
                seg, off = n, 0
            with open(self._path(n), "rb") as f:
                f.seek(off)
                while len(lines) < max_count:
                    line = f.readline()
                    if not line or not line.endswith(b"\n"):
                        break  # end of segment, or a torn tail
                    body = line[:-1]
                    if used + len(body) + 1 > max_bytes and lines:
                        return lines, (seg, off)
                    lines.append(body)
                    used += len(body) + 1
                    off += len(line)
            if len(lines) >= max_count:
                break
        return lines, (seg, off)

    def ack(self, cursor, lines):
        """The broker has the readings up to `cursor`: forget them (segments go whole)."""
        seg, off = cursor
        last_seq = _seq_of(lines[-1]) if lines else self._seq - 1
        self.read_seg, self.read_off = seg, off
        self._write_journal(last_seq)
        while self.segs and self.segs[0] < seg:
            os.remove(self._path(self.segs.pop(0)))

    def pending(self):
        """How many readings wait to be sent (reads the files: for status and tests)."""
        count = 0
        for n in self.segs:
            if n < self.read_seg:
                continue
            with open(self._path(n), "rb") as f:
                if n == self.read_seg:
                    f.seek(self.read_off)
                for line in f:
                    if line.endswith(b"\n"):
                        count += 1
        return count

    def used_bytes(self):
        total = 0
        for n in self.segs:
            total += max(0, size(self._path(n)))
        return total
