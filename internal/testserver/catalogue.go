package main

import (
	"bytes"
	"encoding/json"
	"os"
	"time"
)

// fileCatalogue is -catalogue: tools and prompts served from a JSON file,
// {"tools": [...], "prompts": [...]}, each entry the exact object the
// lists carry. The file is read again every 20ms; when its bytes change,
// the server notifies tools/list_changed and prompts/list_changed, as an
// upstream whose definitions change under a live session does (a rug
// pull). A call to one of its tools returns "called NAME"; a get of one of
// its prompts returns "prompt NAME". A file that is missing or does not
// decode serves nothing.
type fileCatalogue struct {
	Tools   []json.RawMessage `json:"tools"`
	Prompts []json.RawMessage `json:"prompts"`
}

// watchCatalogue reads the file of -catalogue now, and then every 20ms for
// as long as the server runs.
func (s *server) watchCatalogue() {
	last := s.readCatalogue(nil)
	go func() {
		for range time.Tick(20 * time.Millisecond) {
			if data := s.readCatalogue(last); !bytes.Equal(data, last) {
				last = data
				s.notify("notifications/tools/list_changed", nil)
				s.notify("notifications/prompts/list_changed", nil)
			}
		}
	}()
}

// readCatalogue reads the file and, if its bytes differ from last, serves
// what it holds. It returns the bytes read.
func (s *server) readCatalogue(last []byte) []byte {
	data, _ := os.ReadFile(s.cfg.catalogue)
	if last != nil && bytes.Equal(data, last) {
		return data
	}
	var fc fileCatalogue
	_ = json.Unmarshal(data, &fc)
	s.mu.Lock()
	s.file = fc
	s.mu.Unlock()
	return data
}

// fileTool returns the named tool of the file, nil if none.
func (s *server) fileTool(name string) *tool {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, def := range s.file.Tools {
		var t struct{ Name string }
		if json.Unmarshal(def, &t) == nil && t.Name == name {
			return &tool{name: name, def: def, run: func(*request, *toolCall) (any, *rpcError) {
				return textResult("called " + name), nil
			}}
		}
	}
	return nil
}

// filePrompt reports whether the file lists the named prompt.
func (s *server) filePrompt(name string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, def := range s.file.Prompts {
		var p struct{ Name string }
		if json.Unmarshal(def, &p) == nil && p.Name == name {
			return true
		}
	}
	return false
}
