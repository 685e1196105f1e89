package main

import (
	"encoding/json"
	"fmt"
	"os"
	"sync"
)

// messageLog appends one JSON line per received message to the -log-file,
// so tests can assert exactly what the server saw.
type messageLog struct {
	mu sync.Mutex
	f  *os.File
}

type logEntry struct {
	Method string          `json:"method,omitempty"`
	ID     json.RawMessage `json:"id,omitempty"`
	Params json.RawMessage `json:"params,omitempty"`
	Result json.RawMessage `json:"result,omitempty"`
	Error  *rpcError       `json:"error,omitempty"`
}

// openMessageLog opens path for appending; an empty path means no log.
func openMessageLog(path string) (*messageLog, error) {
	if path == "" {
		return nil, nil
	}
	f, err := os.OpenFile(path, os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o644)
	if err != nil {
		return nil, fmt.Errorf("opening log file: %w", err)
	}
	return &messageLog{f: f}, nil
}

// record appends msg; a nil log records nothing.
func (l *messageLog) record(msg *message) {
	if l == nil {
		return
	}
	line, err := encodeLine(logEntry{Method: msg.Method, ID: msg.ID, Params: msg.Params, Result: msg.Result, Error: msg.Error})
	if err != nil {
		return
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	_, _ = l.f.Write(line)
}
