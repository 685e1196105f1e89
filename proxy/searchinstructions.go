package proxy

import (
	"slices"
	"strings"

	"github.com/mcpmux/mcpmux/registry"
)

// searchInstructions is initialize's text in search mode: a guide to
// search mode's tools and one line per upstream (its prefix and what it
// is for), so that the model knows what it can search for.
func (s *Server) searchInstructions(p *registry.Profile) string {
	var b strings.Builder
	b.WriteString("mcpmux serves the tools of the MCP servers below. Find a tool with search_tools (say what you want to do), read its full input schema with describe_tools if you need it, and run it with call_tool. Servers (name, tool prefix: what it is for):\n")
	b.WriteString(s.serverSummary(p))
	return b.String()
}

// maxSummaryLine bounds what one upstream's line says of it, in bytes.
const maxSummaryLine = 160

// ServerSummary lists every upstream in one line each: its name, its
// tools' prefix, and what it is for, from its title, description or
// instructions.
func (s *Server) ServerSummary() string { return s.serverSummary(nil) }

// serverSummary is ServerSummary of the servers of profile p (nil: all).
func (s *Server) serverSummary(p *registry.Profile) string {
	cat := s.cat.Load()
	var b strings.Builder
	for _, r := range s.routes() {
		if p != nil && len(p.Servers) > 0 && !slices.Contains(p.Servers, r.cfg.Name) {
			continue
		}
		b.WriteString("- ")
		b.WriteString(r.cfg.Name)
		if p := r.cfg.ExposedPrefix(); p != "" {
			b.WriteString(" (" + p + nameSep + "*)")
		}
		if what := upstreamPurpose(cat, r.cfg.Name); what != "" {
			b.WriteString(": " + what)
		}
		b.WriteByte('\n')
	}
	return b.String()
}

// upstreamPurpose says in a line what an upstream is for, from what it
// says of itself; "" if it says nothing.
func upstreamPurpose(cat *catalogue, server string) string {
	c := cat.upstream(server)
	if c == nil {
		return ""
	}
	info := serverInfo(c)
	var parts []string
	if info.Title != "" && !strings.EqualFold(info.Title, server) {
		parts = append(parts, info.Title)
	}
	for _, text := range []string{info.Description, c.Instructions} {
		if text != "" {
			parts = append(parts, firstSentence(text))
			break
		}
	}
	if len(parts) == 0 && info.Name != "" && !strings.EqualFold(info.Name, server) {
		parts = append(parts, info.Name)
	}
	return truncate(strings.Join(parts, " — "), maxSummaryLine)
}
