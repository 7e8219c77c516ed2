#!/usr/bin/env python3
"""knotmap.bin -> knotmap.uf2 for a UF2 bootloader (tinyuf2 on the Black Pill).

UF2 (Microsoft, https://github.com/microsoft/uf2): 512-byte blocks, each
carrying 256 bytes of the image with its flash address; family id 0x57755a57
= STM32F4. usage: bin2uf2.py IN.bin OUT.uf2 BASE_ADDRESS
"""
import struct
import sys

MAGIC0, MAGIC1, MAGIC_END = 0x0A324655, 0x9E5D5157, 0x0AB16F30
FLAG_FAMILY = 0x00002000
FAMILY_STM32F4 = 0x57755A57
CHUNK = 256


def main():
    if len(sys.argv) != 4:
        sys.exit(__doc__)
    data = open(sys.argv[1], "rb").read()
    base = int(sys.argv[3], 0)
    n = (len(data) + CHUNK - 1) // CHUNK
    out = bytearray()
    for i in range(n):
        chunk = data[i * CHUNK:(i + 1) * CHUNK].ljust(CHUNK, b"\0")
        block = struct.pack("<8I", MAGIC0, MAGIC1, FLAG_FAMILY, base + i * CHUNK, CHUNK, i, n,
                            FAMILY_STM32F4)
        block += chunk.ljust(476, b"\0") + struct.pack("<I", MAGIC_END)
        assert len(block) == 512
        out += block
    open(sys.argv[2], "wb").write(out)


if __name__ == "__main__":
    main()
