#!/usr/bin/env python3
"""An independent .kmrec reader written from docs/kmrec-format.md alone.

Checks every CRC and prints a summary the tests compare with what was
written:  rows cols content frames events complete seq0 time_last kpa0[1] ev_last_type
usage: kmrec_read.py FILE
"""
import struct
import sys


def crc32c(data, crc=0):
    table = crc32c.table
    if table is None:
        table = []
        for i in range(256):
            c = i
            for _ in range(8):
                c = (c >> 1) ^ 0x82F63B78 if c & 1 else c >> 1
            table.append(c)
        crc32c.table = table
    crc ^= 0xFFFFFFFF
    for b in data:
        crc = (crc >> 8) ^ table[(crc ^ b) & 0xFF]
    return crc ^ 0xFFFFFFFF


crc32c.table = None


def main(path):
    data = open(path, "rb").read()
    assert data[:8] == b"KMREC\r\n\x1a", "magic"
    version, _, hlen, content, rows, cols = struct.unpack_from("<HHIIHH", data, 8)
    assert version == 1
    (csize,) = struct.unpack_from("<I", data, 264)
    assert hlen == 272 + csize
    (hcrc,) = struct.unpack_from("<I", data, 268 + csize)
    assert hcrc == crc32c(data[: 268 + csize]), "header CRC"
    cells = rows * cols
    off = hlen
    frames = events = 0
    seq0 = kpa0 = None
    t_last = ev_last = None
    complete = False
    while off < len(data):
        magic, ctype, plen, nrec, first, nframes, ccrc = struct.unpack_from("<4sIIIQII", data, off)
        assert magic == b"KMCK", "chunk magic at %d" % off
        assert ccrc == crc32c(data[off : off + 28]), "chunk header CRC"
        payload = data[off + 32 : off + 32 + plen]
        (pcrc,) = struct.unpack_from("<I", data, off + 32 + plen)
        assert pcrc == crc32c(payload), "payload CRC"
        if ctype == 2:  # index, then the trailer
            tail = data[off + 32 + plen + 4 :]
            assert len(tail) == 32 and tail[:8] == b"KMRECEND"
            ioff, total, entries, tcrc = struct.unpack_from("<QQII", tail, 8)
            assert ioff == off and total == frames and entries == nrec
            assert tcrc == crc32c(tail[:28])
            complete = True
            break
        assert first == frames
        pos = 0
        for _ in range(nrec):
            kind, size = payload[pos], struct.unpack_from("<I", payload, pos + 4)[0]
            if kind == 1:
                seq, flags, dropped, calib, t_dev, t_host = struct.unpack_from("<IIIIQQ", payload, pos + 8)
                cell = pos + 40 + (2 * cells if content & 1 else 0)
                if frames == 0:
                    seq0 = seq
                    if content & 2:
                        kpa0 = struct.unpack_from("<f", payload, cell + 4)[0]
                t_last = t_dev
                frames += 1
            elif kind == 2:
                ev_last = struct.unpack_from("<H", payload, pos + 8)[0]
                events += 1
            pos += size
        assert pos == plen
        off += 32 + plen + 4
    print(rows, cols, content, frames, events, int(complete), seq0, t_last, repr(kpa0), ev_last)


if __name__ == "__main__":
    main(sys.argv[1])
