package main

import (
	"encoding/json"
	"fmt"
	"os"
	"slices"
	"strconv"
	"strings"
)

// Behaviour of a hostile or careless server, for the tests of mcpmux's
// bounds: floods of notifications and of requests to the client, updates
// nobody asked for, its environment on stderr.

// hostileTools are the extra tools of -hostile.
func (s *server) hostileTools() []*tool {
	return []*tool{
		newTool("flood_list_changed", "Sends arguments.count tools/list_changed notifications", schemaNone, s.toolFloodListChanged),
		newTool("flood_requests", "Sends arguments.count requests (arguments.method) to the client at once and waits for arguments.wait answers", schemaNone, s.toolFloodRequests),
		newTool("update", "Sends notifications/resources/updated for arguments.uri, subscribed or not", schemaNone, s.toolUpdate),
		newTool("stats", "Returns how many tools/list requests came, and the most at once", schemaNone, s.toolStats),
	}
}

func (s *server) toolFloodListChanged(_ *request, c *toolCall) (any, *rpcError) {
	n := c.integer("count", 1000)
	for range n {
		s.notify("notifications/tools/list_changed", nil)
	}
	return textResult(fmt.Sprintf("sent %d", n)), nil
}

// floodResult is what flood_requests returns.
type floodResult struct {
	Results int            `json:"results"`
	Errors  map[string]int `json:"errors"` // by message
}

// toolFloodRequests writes count requests to the client without waiting,
// then collects wait answers (or fewer, if the call is cancelled).
func (s *server) toolFloodRequests(r *request, c *toolCall) (any, *rpcError) {
	method := c.str("method")
	if method == "" {
		method = "sampling/createMessage"
	}
	n := c.integer("count", 1000)
	wait := c.integer("wait", n)
	answers := make(chan *message, n)
	ids := make([]string, n)
	s.mu.Lock()
	for i := range ids {
		s.nextOutID++
		ids[i] = strconv.Itoa(s.nextOutID)
		s.pending[ids[i]] = answers
	}
	s.mu.Unlock()
	defer func() {
		s.mu.Lock()
		for _, id := range ids {
			delete(s.pending, id)
		}
		s.mu.Unlock()
	}()
	var params any
	if method == "sampling/createMessage" {
		params = sampleParams
	}
	for _, id := range ids {
		s.writeMessage(outgoing{ID: json.RawMessage(id), Method: method, Params: params})
	}
	res := floodResult{Errors: map[string]int{}}
	for range wait {
		select {
		case a := <-answers:
			if a.Error != nil {
				res.Errors[a.Error.Message]++
			} else {
				res.Results++
			}
		case <-r.ctx.Done():
			return nil, nil
		}
	}
	return textResult(string(mustJSON(res))), nil
}

func (s *server) toolUpdate(_ *request, c *toolCall) (any, *rpcError) {
	s.notify("notifications/resources/updated", map[string]string{"uri": c.str("uri")})
	return textResult("sent"), nil
}

// listStats counts tools/list requests; guarded by server.mu.
type listStats struct {
	Lists   int `json:"lists"`
	Now     int `json:"-"`
	MostNow int `json:"mostAtOnce"`
}

func (s *server) toolStats(*request, *toolCall) (any, *rpcError) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return textResult(string(mustJSON(s.lists))), nil
}

// listing counts a tools/list request in flight until the returned func.
func (s *server) listing() func() {
	s.mu.Lock()
	s.lists.Lists++
	s.lists.Now++
	s.lists.MostNow = max(s.lists.MostNow, s.lists.Now)
	s.mu.Unlock()
	return func() {
		s.mu.Lock()
		s.lists.Now--
		s.mu.Unlock()
	}
}

// missing reports whether -missing names method, which is then answered
// as unknown.
func (s *server) missing(method string) bool {
	return slices.Contains(strings.Split(s.cfg.missing, ","), method)
}

// printEnv writes the server's environment to stderr, one variable a
// line, as a careless server logs its configuration.
func printEnv() {
	env := os.Environ()
	slices.Sort(env)
	for _, kv := range env {
		fmt.Fprintln(os.Stderr, "testserver env:", kv)
	}
}
