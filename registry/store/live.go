package store

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/mcpmux/mcpmux/internal/atomicfile"
)

// LiveWindow is how recent the heartbeat of an [Instance] must be for it
// to count as running. A serving mcpmux beats every few seconds.
const LiveWindow = 10 * time.Second

// Dir returns where the Badger store of a data directory lives. A data
// directory (see [DefaultDataDir]) holds the store in its subdirectory
// "store" and, in "live", one small file per running `mcpmux serve`,
// rewritten every few seconds without opening the store (see [Instance]).
func Dir(dataDir string) string { return filepath.Join(dataDir, "store") }

func liveDir(dataDir string) string { return filepath.Join(dataDir, "live") }

func liveFile(dataDir string, pid int) string {
	return filepath.Join(liveDir(dataDir), strconv.Itoa(pid)+".json")
}

// Instance is one `mcpmux serve` as it last described itself: its process,
// a heartbeat, and the state of each of its upstream servers.
type Instance struct {
	// PID is the process id of the mcpmux.
	PID int `json:"pid"`
	// Started is when it started.
	Started time.Time `json:"started"`
	// Heartbeat is when it last wrote this.
	Heartbeat time.Time `json:"heartbeat"`
	// Servers are the states of its upstream servers, sorted by name.
	Servers []ServerState `json:"servers"`
	// URL is where it serves HTTP (serve --http, or the side listener of
	// serve --metrics): its /metrics are there. Empty for neither.
	URL string `json:"url,omitempty"`
}

// Running reports whether the instance runs at now: its heartbeat is less
// than [LiveWindow] old and its process is alive.
func (i Instance) Running(now time.Time) bool {
	return now.Sub(i.Heartbeat) < LiveWindow && processAlive(i.PID)
}

// Instances returns the instances that have live files in dataDir, running
// or not, newest heartbeat first. Files that vanish or do not decode while
// it reads are skipped.
func Instances(dataDir string) ([]Instance, error) {
	entries, err := os.ReadDir(liveDir(dataDir))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("listing running instances: %w", err)
	}
	var out []Instance
	for _, e := range entries {
		if !strings.HasSuffix(e.Name(), ".json") {
			continue
		}
		data, err := os.ReadFile(filepath.Join(liveDir(dataDir), e.Name()))
		var inst Instance
		if err == nil && json.Unmarshal(data, &inst) == nil && inst.PID > 0 {
			out = append(out, inst)
		}
	}
	slices.SortFunc(out, func(a, b Instance) int { return b.Heartbeat.Compare(a.Heartbeat) })
	return out, nil
}

// writeInstance replaces the live file of inst atomically: readers see the
// old file or the new one, never a part.
func writeInstance(dataDir string, inst Instance) error {
	data, err := json.Marshal(inst)
	if err != nil {
		return fmt.Errorf("encoding live state: %w", err)
	}
	if err := atomicfile.Write(liveFile(dataDir, inst.PID), data, 0o600); err != nil {
		return fmt.Errorf("writing live state: %w", err)
	}
	return nil
}

// removeInstance deletes the live file of pid, if there is one.
func removeInstance(dataDir string, pid int) error {
	err := os.Remove(liveFile(dataDir, pid))
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("removing live state: %w", err)
	}
	return nil
}
