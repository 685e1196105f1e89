package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"runtime"
	"time"

	"github.com/mcpmux/mcpmux/registry"
	"github.com/mcpmux/mcpmux/registry/hosts"
)

// discoverCacheKey is the key of discover's scan in the registry's cache.
const discoverCacheKey = "discover/v1"

// runDiscover lists the MCP servers on this machine that the
// configuration does not have, and adds one with --add.
func runDiscover(ctx context.Context, args []string, _ io.Reader, stdout, stderr io.Writer) error {
	var c commonFlags
	var dir dataDirFlag
	fs := newFlagSet("discover", stdout, &c)
	dir.register(fs)
	add := fs.String("add", "", "add the server `NAME` (as listed) to the configuration")
	ttl := durationFlag(time.Hour)
	fs.Var(&ttl, "ttl", "use a scan made less than `D` ago, kept in the registry (default 1h)")
	refresh := fs.Bool("refresh", false, "scan again, whatever the last scan's age")
	asJSON := fs.Bool("json", false, "print JSON")
	if _, err := parseArgs(fs, "discover", args, 0); err != nil {
		return err
	}
	cfg, logger, err := setup(&c, stderr)
	var none *noConfig
	if errors.As(err, &none) { // everything found is unconfigured
		lvl, _ := parseLevel(c.logLevel)
		cfg, logger, err = &registry.Config{Path: none.path}, newLogger(stderr, lvl, nil), nil
	}
	if err != nil {
		return err
	}
	defer c.close()
	path, err := dir.path()
	if err != nil {
		return err
	}
	st := openStore(path, logger)
	defer st.Wait()
	found := cachedScan(ctx, st, time.Duration(ttl), *refresh, func() []hosts.Found {
		env := hosts.CurrentEnv(runtime.GOOS)
		all := hosts.FromHosts(env, self())
		return append(all, hosts.Executables(hosts.InstallDirs(env, os.Getenv("PATH")))...)
	}, logger.Warn)
	todo := hosts.Unconfigured(found, cfg)
	if *add != "" {
		return addFound(stdout, cfg.Path, todo, *add)
	}
	if *asJSON {
		return printJSON(stdout, append([]hosts.Found{}, todo...))
	}
	rows := make([][]string, 0, len(todo))
	for _, f := range todo {
		rows = append(rows, []string{f.Name, f.Source, describe(f.Entry)})
	}
	if len(rows) == 0 {
		fmt.Fprintln(stdout, "No MCP server found that is not configured.")
		return nil
	}
	if err := printTable(stdout, []string{"NAME", "FOUND IN", "RUNS"}, rows); err != nil {
		return err
	}
	fmt.Fprintln(stdout, "\nAdd one with: mcpmux discover --add NAME (or all of the hosts' with: mcpmux import --write)")
	return nil
}

// cacheStore is what discover needs of the registry.
type cacheStore interface {
	GetCache(ctx context.Context, name string) ([]byte, bool, error)
	PutCache(ctx context.Context, name string, value []byte, ttl time.Duration) error
}

// cachedScan returns the scan cached in the registry, or scans and caches
// the result for ttl. A registry that fails is warned of, and the scan
// made all the same.
func cachedScan(ctx context.Context, st cacheStore, ttl time.Duration, refresh bool, scan func() []hosts.Found, warn func(string, ...any)) []hosts.Found {
	if !refresh && ttl > 0 {
		raw, ok, err := st.GetCache(ctx, discoverCacheKey)
		var found []hosts.Found
		if err == nil && ok && json.Unmarshal(raw, &found) == nil {
			return found
		}
		if err != nil {
			warn("reading the last scan from the registry; scanning", "err", err)
		}
	}
	found := scan()
	if ttl > 0 {
		raw, _ := json.Marshal(found)
		if err := st.PutCache(ctx, discoverCacheKey, raw, ttl); err != nil {
			warn("keeping the scan in the registry", "err", err)
		}
	}
	return found
}

// addFound adds the found server name to the configuration at config.
func addFound(w io.Writer, config string, todo []hosts.Found, name string) error {
	for _, f := range todo {
		if f.Name != name {
			continue
		}
		entry := hosts.Entry{Name: f.Name, Raw: f.Entry, From: hosts.File{Host: f.Source, Path: f.Path}}
		plan, err := hosts.NewPlan(config, []hosts.Entry{entry}, self())
		if err != nil {
			return err
		}
		if plan.Count(hosts.Add) == 0 {
			return fmt.Errorf("%q is not added: the configuration has an entry of that name already", name)
		}
		if err := plan.Apply(); err != nil {
			return fmt.Errorf("writing %s: %w", plan.Config, err)
		}
		fmt.Fprintf(w, "Added %s to %s: %s\n", name, plan.Config, describe(f.Entry))
		return nil
	}
	return fmt.Errorf("no unconfigured server %q was found (mcpmux discover lists them)", name)
}
