package footprint

import (
	"bufio"
	"os"
	"strconv"
	"strings"
	"syscall"
)

// dropCode drops the resident pages of the executable's read-only
// mappings (code and constants: never written, so only page cache) with
// madvise(MADV_DONTNEED); each faults back in from the page cache when it
// is next used. Writable mappings (data, heap) are left alone. Errors are
// ignored: what cannot be dropped stays resident, as before.
func dropCode() {
	exe, err := os.Readlink("/proc/self/exe")
	if err != nil {
		return
	}
	f, err := os.Open("/proc/self/maps")
	if err != nil {
		return
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		// address perms offset dev inode path
		fields := strings.Fields(sc.Text())
		if len(fields) < 6 || fields[5] != exe || fields[1][0] != 'r' || fields[1][1] != '-' {
			continue
		}
		lo, hi, ok := strings.Cut(fields[0], "-")
		start, err1 := strconv.ParseUint(lo, 16, 64)
		end, err2 := strconv.ParseUint(hi, 16, 64)
		if !ok || err1 != nil || err2 != nil || end <= start {
			continue
		}
		_, _, _ = syscall.Syscall(syscall.SYS_MADVISE, uintptr(start), uintptr(end-start), syscall.MADV_DONTNEED)
	}
}
