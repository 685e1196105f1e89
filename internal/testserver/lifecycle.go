package main

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"
)

// supportedVersions are the protocol versions the server accepts as asked.
var supportedVersions = []string{"2024-11-05", "2025-03-26", "2025-06-18", "2025-11-25"}

const latestVersion = "2025-11-25"

var capabilities = json.RawMessage(`{"tools":{"listChanged":true},"prompts":{"listChanged":true},` +
	`"resources":{"subscribe":true,"listChanged":true},"logging":{},"completions":{}}`)

type serverInfo struct {
	Name    string `json:"name"`
	Version string `json:"version"`
}

type initializeResult struct {
	ProtocolVersion string          `json:"protocolVersion"`
	Capabilities    json.RawMessage `json:"capabilities"`
	ServerInfo      serverInfo      `json:"serverInfo"`
	Instructions    string          `json:"instructions,omitempty"`
}

// initialize negotiates the version; -hang-initialize, -start-delay and
// -start-gate make it never answer or answer late.
func (s *server) initialize(r *request) (any, *rpcError) {
	if s.cfg.hangInitialize {
		<-r.ctx.Done()
		return nil, nil
	}
	if !sleepCtx(r.ctx, s.cfg.startDelay) || !waitFile(r.ctx, s.cfg.startGate) {
		return nil, nil
	}
	var p struct {
		ProtocolVersion string `json:"protocolVersion"`
		Capabilities    struct {
			Roots json.RawMessage `json:"roots"`
		} `json:"capabilities"`
	}
	if err := decodeParams(r.msg.Params, &p); err != nil {
		return nil, err
	}
	if s.cfg.rootsTool && len(p.Capabilities.Roots) > 0 && string(p.Capabilities.Roots) != "null" {
		s.addTools(nameTool("roots_tool"))
	}
	version := latestVersion
	if slices.Contains(supportedVersions, p.ProtocolVersion) {
		version = p.ProtocolVersion
	}
	return initializeResult{
		ProtocolVersion: version,
		Capabilities:    capabilities,
		ServerInfo:      serverInfo{Name: s.cfg.name, Version: "1.0.0"},
		Instructions:    s.cfg.instructionsText(),
	}, nil
}

// instructionsText returns -instructions, padded to -instructions-size
// bytes with numbered words ("w0001 w0002 ...") that tell where a cut fell.
func (c config) instructionsText() string {
	var b strings.Builder
	b.WriteString(c.instructions)
	for i := 1; b.Len() < c.instructionsSize; i++ {
		fmt.Fprintf(&b, " w%04d", i)
	}
	return b.String()[:max(len(c.instructions), min(b.Len(), c.instructionsSize))]
}

// ping answers {}, or method-not-found with -no-ping, as servers that
// never heard of ping do.
func (s *server) ping(*request) (any, *rpcError) {
	if s.cfg.noPing {
		return nil, newError(codeMethodNotFound, "method not found: ping")
	}
	return empty{}, nil
}

var logLevels = []string{"debug", "info", "notice", "warning", "error", "critical", "alert", "emergency"}

// setLevel records the requested level; the log tool does not filter by it.
func (s *server) setLevel(r *request) (any, *rpcError) {
	var p struct {
		Level string `json:"level"`
	}
	if err := decodeParams(r.msg.Params, &p); err != nil {
		return nil, err
	}
	if !slices.Contains(logLevels, p.Level) {
		return nil, invalidParams("invalid log level %q", p.Level)
	}
	s.mu.Lock()
	s.logLevel = p.Level
	s.mu.Unlock()
	return empty{}, nil
}

// greetNames are the completion candidates for prompt greet, argument name.
var greetNames = []string{"alice", "albert", "bob"}

type completeParams struct {
	Ref struct {
		Type string `json:"type"`
		Name string `json:"name"`
	} `json:"ref"`
	Argument struct {
		Name  string `json:"name"`
		Value string `json:"value"`
	} `json:"argument"`
}

type completion struct {
	Values  []string `json:"values"`
	Total   int      `json:"total"`
	HasMore bool     `json:"hasMore"`
}

func (s *server) complete(r *request) (any, *rpcError) {
	var p completeParams
	if err := decodeParams(r.msg.Params, &p); err != nil {
		return nil, err
	}
	values := []string{}
	if p.Ref.Type == "ref/prompt" && p.Ref.Name == "greet" && p.Argument.Name == "name" {
		for _, n := range greetNames {
			if strings.HasPrefix(n, p.Argument.Value) {
				values = append(values, n)
			}
		}
	}
	return map[string]completion{"completion": {Values: values, Total: len(values)}}, nil
}
