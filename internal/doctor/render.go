package doctor

import (
	"bytes"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"
)

// RenderOptions shape Render's table. The zero value means defaults.
type RenderOptions struct {
	// Duration writes a step's time; nil rounds it to the millisecond.
	// Golden tests give one that hides it.
	Duration func(time.Duration) string
	// Mask masks secrets in the problems; nil leaves them.
	Mask func(string) string
}

// Render writes the report as one table: a row per server, and one more
// per problem beyond its first, with the problem and its fix; then a
// summary line.
func Render(w io.Writer, r *Report, o RenderOptions) error {
	dur := o.Duration
	if dur == nil {
		dur = func(d time.Duration) string { return d.Round(time.Millisecond).String() }
	}
	mask := o.Mask
	if mask == nil {
		mask = func(s string) string { return s }
	}
	step := func(d time.Duration) string {
		if d == 0 {
			return "-"
		}
		return dur(d)
	}
	var buf bytes.Buffer
	tw := tabwriter.NewWriter(&buf, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "SERVER\tSTART\tINITIALIZE\tLIST\tTOOLS\tPROBLEM\tFIX")
	bad := 0
	for _, c := range r.Checks {
		tools := fmt.Sprint(c.Tools)
		if c.tools == nil && c.Tools == 0 {
			tools = "-"
		}
		lead := []string{c.Server, step(c.Start), step(c.Initialize), step(c.List), tools}
		switch {
		case c.Disabled:
			fmt.Fprintf(tw, "%s\t-\t-\t-\t-\tdisabled\t\n", c.Server)
			continue
		case c.OK():
			fmt.Fprintf(tw, "%s\tok\t\n", strings.Join(lead, "\t"))
			continue
		}
		bad++
		for i, p := range c.Problems {
			if i > 0 {
				lead = []string{"", "", "", "", ""}
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\n", strings.Join(lead, "\t"), oneLine(mask(p.What)), oneLine(mask(p.Fix)))
		}
	}
	for _, p := range r.Problems {
		fmt.Fprintf(tw, "(config)\t-\t-\t-\t-\t%s\t%s\n", oneLine(mask(p.What)), oneLine(mask(p.Fix)))
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	var out strings.Builder
	for line := range strings.Lines(buf.String()) {
		out.WriteString(strings.TrimRight(line, " \n") + "\n")
	}
	switch {
	case r.OK():
		fmt.Fprintf(&out, "\n%d servers, no problems.\n", len(r.Checks))
	default:
		fmt.Fprintf(&out, "\n%d of %d servers have problems.\n", bad, len(r.Checks))
	}
	fmt.Fprintf(&out, "Tool mode: %s (%s).\n", r.ToolMode.Mode, r.ToolMode.Why)
	for _, warning := range r.ToolMode.Warnings {
		fmt.Fprintf(&out, "Warning: %s.\n", warning)
	}
	_, err := io.WriteString(w, out.String())
	return err
}

func oneLine(s string) string { return strings.Join(strings.Fields(s), " ") }
