package main

import (
	"bytes"
	"debug/macho"
	"encoding/binary"
	"fmt"
	"io"
	"math"
)

// universalAlign is the alignment of each slice of a universal binary, as
// a power of two: 2^14, the arm64 page size, which lipo also uses.
const universalAlign = 14

// writeUniversal writes to w a universal ("fat") Mach-O binary holding the
// thin Mach-O binaries slices, one per CPU, as Apple's `lipo -create` does:
// a big-endian fat header (<mach-o/fat.h>: magic, count, then per slice
// its CPU type and subtype, offset, size and alignment), then each binary
// unchanged at an offset aligned to 2^universalAlign. macOS runs the slice
// of its CPU; each slice keeps its own code signature (the Go linker signs
// darwin/arm64 binaries ad hoc), since a signature covers only its slice.
// Claude Desktop's extension manifest chooses a binary by platform only,
// never by CPU, so this one file serves both kinds of Mac.
func writeUniversal(w io.Writer, slices ...[]byte) error {
	arches := make([]macho.FatArchHeader, len(slices))
	seen := make(map[macho.Cpu]bool)
	offset := alignUp(8+20*uint64(len(slices)), universalAlign)
	for i, b := range slices {
		f, err := macho.NewFile(bytes.NewReader(b))
		if err != nil {
			return fmt.Errorf("slice %d is not a thin Mach-O binary: %w", i, err)
		}
		if seen[f.Cpu] {
			return fmt.Errorf("two slices for CPU %v", f.Cpu)
		}
		seen[f.Cpu] = true
		if offset+uint64(len(b)) > math.MaxUint32 {
			return fmt.Errorf("universal binary over 4 GiB")
		}
		arches[i] = macho.FatArchHeader{Cpu: f.Cpu, SubCpu: f.SubCpu, Offset: uint32(offset), Size: uint32(len(b)), Align: universalAlign}
		offset = alignUp(offset+uint64(len(b)), universalAlign)
	}
	head := binary.BigEndian.AppendUint32(nil, macho.MagicFat)
	head = binary.BigEndian.AppendUint32(head, uint32(len(slices)))
	for _, a := range arches {
		for _, field := range []uint32{uint32(a.Cpu), a.SubCpu, a.Offset, a.Size, a.Align} {
			head = binary.BigEndian.AppendUint32(head, field)
		}
	}
	written := uint64(0)
	for i, b := range append([][]byte{head}, slices...) {
		if i > 0 {
			pad := uint64(arches[i-1].Offset) - written
			if _, err := w.Write(make([]byte, pad)); err != nil {
				return err
			}
			written += pad
		}
		if _, err := w.Write(b); err != nil {
			return err
		}
		written += uint64(len(b))
	}
	return nil
}

// alignUp rounds n up to a multiple of 2^exp.
func alignUp(n uint64, exp uint) uint64 {
	mask := uint64(1)<<exp - 1
	return (n + mask) &^ mask
}
