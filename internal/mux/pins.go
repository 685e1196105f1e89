package mux

import (
	"context"
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
	if err != nil {
		m.logger.Warn("tool pins unreadable; pinning afresh", "file", store.PinsPath(m.opts.PinsDir), "err", err)
	}
	return b
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

// savePins writes the proxy's pins, if they changed, into the data
// directory's.
func (m *Mux) savePins() {
	b, dirty := m.srv.Pins()
	if !dirty || b == nil {
		return
	}
	if err := store.SavePins(m.opts.PinsDir, b); err != nil {
		m.logger.Warn("saving the tool pins", "err", err)
	}
}
