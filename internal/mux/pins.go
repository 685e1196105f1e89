package mux

import (
	"context"
	"errors"
	"time"

	"github.com/mcpmux/mcpmux/internal/watch"
	"github.com/mcpmux/mcpmux/registry/pin"
	"github.com/mcpmux/mcpmux/registry/store"
)

// loadPins returns the book of pins the proxy starts with: the data
// directory's (see Options.PinsDir), or an empty one kept in memory.
func (m *Mux) loadPins() *pin.Book {
	if m.opts.PinsDir == "" {
		return &pin.Book{}
	}
	b, err := store.LoadPins(m.opts.PinsDir)
	if errors.Is(err, store.ErrPinsDamaged) {
		return m.repairPins(err)
	}
	if err != nil {
		m.logger.Warn("tool pins unreadable; pinning in memory for this run", "file", store.PinsPath(m.opts.PinsDir), "err", err)
	}
	return b
}

// repairPins moves the damaged pins file aside (damaged says how it is)
// and returns the book that replaces it: one that withholds what it has
// not seen until the user approves it (pin.Book.Recovered).
func (m *Mux) repairPins(damaged error) *pin.Book {
	b, movedTo, err := store.UpdatePins(m.opts.PinsDir, nil)
	if err != nil {
		m.logger.Warn("tool pins damaged; withholding what they do not approve", "file", store.PinsPath(m.opts.PinsDir), "reason", damaged, "err", err)
		return &pin.Book{Recovered: &pin.Recovery{}}
	}
	m.warnSetAside(movedTo, damaged)
	return b
}

// warnSetAside logs that the damaged pins file was moved to movedTo, if
// it was.
func (m *Mux) warnSetAside(movedTo string, reason error) {
	if movedTo == "" {
		return
	}
	m.logger.Warn("tool pins file damaged; moved aside, and the tools of servers first seen since are withheld until approved (mcpmux trust --list)",
		"file", store.PinsPath(m.opts.PinsDir), "moved_to", movedTo, "reason", reason)
}

// pinned tells keepPins that the proxy's pins changed. It never blocks.
func (m *Mux) pinned() {
	select {
	case m.pinsDirty <- struct{}{}:
	default:
	}
}

// keepPins writes the proxy's pins to the data directory each time they
// change, at once, and hands the proxy the file's each time another
// process (mcpmux trust, another serve) changes it, until ctx is done.
func (m *Mux) keepPins(ctx context.Context) {
	dir := m.opts.PinsDir
	w := &watch.Watcher{
		Path:   store.PinsPath(dir),
		Logger: m.logger,
		Delay:  50 * time.Millisecond, // trust's change reaches the clients well within a second
		OnChange: func() {
			b, err := store.LoadPins(dir)
			if errors.Is(err, store.ErrPinsDamaged) {
				b, err = m.replaceDamaged(err)
			}
			if err != nil {
				m.logger.Warn("reading the tool pins", "err", err)
				return
			}
			m.srv.SetPins(b)
		},
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = w.Run(ctx)
	}()
	m.pinned() // what the cached catalogues recorded before Run
	for {
		select {
		case <-ctx.Done():
			m.savePins() // the last first sights
			<-done
			return
		case <-m.pinsDirty:
			m.savePins()
		}
	}
}

// replaceDamaged moves the pins file, found damaged (as damaged says),
// aside and writes what this run knows in its place: its book holds every
// approval it read before the damage. It returns the file's new book.
func (m *Mux) replaceDamaged(damaged error) (*pin.Book, error) {
	mine, _ := m.srv.Pins()
	if mine == nil {
		mine = &pin.Book{}
	}
	movedTo, err := store.SavePins(m.opts.PinsDir, mine)
	m.warnSetAside(movedTo, damaged)
	if err != nil {
		return nil, err
	}
	return store.LoadPins(m.opts.PinsDir)
}

// savePins writes the proxy's pins, if they changed, into the data
// directory's.
func (m *Mux) savePins() {
	b, dirty := m.srv.Pins()
	if !dirty || b == nil {
		return
	}
	movedTo, err := store.SavePins(m.opts.PinsDir, b)
	if err != nil {
		m.logger.Warn("saving the tool pins", "err", err)
	}
	m.warnSetAside(movedTo, store.ErrPinsDamaged)
}
