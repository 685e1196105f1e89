package statuspage

import (
	"encoding/json"
	"slices"
	"time"
)

// Session is one client's session, as the page lists it: never its id,
// which is the key to it over HTTP.
type Session struct {
	Client        string    `json:"client"`
	ClientVersion string    `json:"clientVersion,omitempty"`
	Protocol      string    `json:"protocol,omitempty"`
	Profile       string    `json:"profile,omitempty"`
	Opened        time.Time `json:"opened"`
	Calls         int64     `json:"calls"`
}

// View is the document of /status.json, what the page shows.
type View struct {
	At       time.Time       `json:"at"`
	Version  string          `json:"version,omitempty"`
	CanAct   bool            `json:"canAct"` // this request may restart, reload, trust
	ToolMode json.RawMessage `json:"toolMode,omitempty"`
	Config   json.RawMessage `json:"config,omitempty"`
	// Upstreams are every server of the configuration, the invalid ones
	// too, sorted by name.
	Upstreams []Upstream `json:"upstreams"`
	Sessions  []Session  `json:"sessions"`
	Calls     []Call     `json:"calls"` // newest first
}

// Upstream is one server's line on the page.
type Upstream struct {
	Server    string    `json:"server"`
	State     string    `json:"state"`
	Since     time.Time `json:"since,omitzero"`
	Tools     int       `json:"tools"`
	Stats               // calls, errors, p95ms
	Restarts  int       `json:"restarts"`
	Attempt   int       `json:"attempt,omitempty"`
	NextRetry time.Time `json:"nextRetry,omitzero"`
	LastError string    `json:"lastError,omitempty"`
	PID       int       `json:"pid,omitempty"` // of its child process, if it has one
	// NeedsLogin: a remote server waits for an OAuth login; Login says
	// how to give it.
	NeedsLogin bool       `json:"needsLogin"`
	Login      *Login     `json:"login,omitempty"`
	Withheld   []Withheld `json:"withheld"`
}

// Login is a remote upstream's OAuth login, as mcpmux://status shows it.
type Login struct {
	State   string `json:"state"`
	Reason  string `json:"reason,omitempty"`
	Command string `json:"command,omitempty"`
}

// Withheld is a tool or prompt pinning keeps from the clients, as
// mcpmux://status shows it.
type Withheld struct {
	Kind     string `json:"kind"`
	Name     string `json:"name"`
	Exposed  string `json:"exposed"`
	Withheld bool   `json:"withheld"` // false under policy "warn": listed, flagged
	Reason   string `json:"reason"`
	Approve  string `json:"approve"`
}

// status is the part of mcpmux://status's document that the page reads.
type status struct {
	ToolMode  json.RawMessage `json:"toolMode"`
	Config    json.RawMessage `json:"config"`
	Upstreams []struct {
		Server    string    `json:"server"`
		State     string    `json:"state"`
		Since     time.Time `json:"since"`
		LastError string    `json:"lastError"`
		Attempt   int       `json:"attempt"`
		Restarts  int       `json:"restarts"`
		NextRetry time.Time `json:"nextRetry"`
		PID       int       `json:"pid"`
		Login     *Login    `json:"login"`
	} `json:"upstreams"`
	Withheld []struct {
		Server string `json:"server"`
		Withheld
	} `json:"withheld"`
}

// needsLogin is oauth.Status's state of an upstream that waits for a
// person to log in.
const needsLogin = "needs login"

// view builds the page's document from mcpmux://status's, the
// catalogue's tool counts, the sessions and the calls.
func (h *handler) view() (*View, error) {
	var st status
	if err := json.Unmarshal(h.opts.Status(), &st); err != nil {
		return nil, err
	}
	v := &View{At: time.Now(), Version: h.opts.Version, ToolMode: st.ToolMode, Config: st.Config, Sessions: []Session{}, Calls: []Call{}}
	if string(v.Config) == "null" {
		v.Config = nil
	}
	tools := map[string]int{}
	if h.opts.Tools != nil {
		tools = h.opts.Tools()
	}
	var stats map[string]Stats
	if h.opts.Calls != nil {
		stats = h.opts.Calls.Stats()
		v.Calls = h.opts.Calls.Recent()
	}
	restarted := map[string]int{}
	if h.opts.Restarted != nil {
		restarted = h.opts.Restarted()
	}
	byServer := map[string]*Upstream{}
	for _, u := range st.Upstreams {
		up := Upstream{
			Server: u.Server, State: u.State, Since: u.Since, Tools: tools[u.Server], Stats: stats[u.Server],
			Restarts: u.Restarts + restarted[u.Server], Attempt: u.Attempt, NextRetry: u.NextRetry, LastError: u.LastError, PID: u.PID,
			Login: u.Login, NeedsLogin: u.Login != nil && u.Login.State == needsLogin, Withheld: []Withheld{},
		}
		v.Upstreams = append(v.Upstreams, up)
	}
	for i := range v.Upstreams {
		byServer[v.Upstreams[i].Server] = &v.Upstreams[i]
	}
	for _, w := range st.Withheld {
		if up := byServer[w.Server]; up != nil {
			up.Withheld = append(up.Withheld, w.Withheld)
		}
	}
	slices.SortFunc(v.Upstreams, func(a, b Upstream) int {
		switch {
		case a.Server < b.Server:
			return -1
		case a.Server > b.Server:
			return 1
		}
		return 0
	})
	if v.Upstreams == nil {
		v.Upstreams = []Upstream{}
	}
	if h.opts.Sessions != nil {
		v.Sessions = append(v.Sessions, h.opts.Sessions()...)
	}
	return v, nil
}
