package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"maps"
	"net"
	"os"
	"slices"
	"strings"

	"github.com/mcpmux/mcpmux/internal/mux"
	"github.com/mcpmux/mcpmux/internal/redact"
	"github.com/mcpmux/mcpmux/internal/statuspage"
	"github.com/mcpmux/mcpmux/proxy/httpserve"
	"github.com/mcpmux/mcpmux/registry"
	"github.com/mcpmux/mcpmux/registry/store"
)

// runServe serves the merged MCP server on stdin/stdout until the client
// closes stdin or a signal arrives; it returns once every upstream has
// been stopped.
func runServe(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) error {
	var c commonFlags
	var dir dataDirFlag
	fs := newFlagSet("serve", stdout, &c)
	dir.register(fs)
	noRegistry := fs.Bool("no-registry", false, "run without the registry: no cached catalogues, no history, no statistics")
	pageSize := fs.Int("page-size", 0, "`N` entries per page of the lists mcpmux serves (0: everything in one page, which every client understands)")
	nameLength := fs.Int("name-length", 0, fmt.Sprintf("longest exposed tool or prompt name, `N` from %d to %d (default: the config's \"nameLength\", else %d)",
		registry.MinNameLength, registry.MaxNameLength, registry.DefaultNameLength))
	var maxSize registry.Size
	fs.Var(&maxSize, "max-message-size", fmt.Sprintf("largest message from the client or an upstream, a `SIZE` such as 64MB (default: the config's \"maxMessageSize\", else %s)", registry.DefaultMessageSize))
	addr := fs.String("http", "", "serve over HTTP on `ADDR` (host:port, such as 127.0.0.1:8080) instead of stdio: streamable HTTP at /mcp, HTTP+SSE at /sse")
	toolMode := fs.String("tool-mode", "", "how tools are listed, `MODE` full, search or auto (default: the config's \"toolMode\", else auto: full while the catalogue fits \"toolBudget\", search beyond it)")
	profile := fs.String("profile", "", "serve the stdio client the `NAME`d profile of the config's \"profiles\": what it lists, searches and calls (over HTTP, profiles are at /mcp/p/NAME and /sse/p/NAME)")
	tokenFlag := fs.String("token", "", "with --http: the bearer `TOKEN` every request must carry (default $MCPMUX_TOKEN); required unless ADDR is loopback")
	// --- replicas (issue 22)
	keyFile := fs.String("session-key-file", "", "with --http: make sessions portable between replicas that share the key in `FILE` (one key a line, the first seals; default $MCPMUX_SESSION_KEY); without a key, sessions stay on the process that opened them")
	// --- end replicas
	metricsAddr := fs.String("metrics", "", "serve Prometheus metrics at /metrics, and the status page at /, on a side listener on `ADDR` (host:port, such as 127.0.0.1:9464); loopback unless --token is set (with --http both are on ADDR already)")
	if _, err := parseArgs(fs, "serve", args, 0); err != nil {
		return err
	}
	sessionKeys, keyText, err := readSessionKeys(*keyFile, *addr != "")
	if err != nil {
		return err
	}
	token := *tokenFlag
	if token == "" {
		token = os.Getenv("MCPMUX_TOKEN")
	}
	if *addr != "" {
		if err := checkHTTP(*addr, token); err != nil {
			return err
		}
	}
	if *metricsAddr != "" {
		if err := checkMetrics(*metricsAddr, token); err != nil {
			return err
		}
	}
	cfg, logger, masker, err := setupMasked(&c, stderr)
	if err == nil && token != "" {
		masker.Add([]string{token}) // never in a log line
	}
	if err == nil && keyText != nil {
		masker.Add(keyText)
	}
	if err != nil {
		return err
	}
	defer c.close()
	if *nameLength != 0 {
		cfg.NameLength = *nameLength
		if err := cfg.Validate(); err != nil {
			return fmt.Errorf("--name-length: %w", err)
		}
	}
	if maxSize != 0 {
		cfg.MaxMessageSize = maxSize
		if err := cfg.Validate(); err != nil {
			return fmt.Errorf("--max-message-size: %w", err)
		}
	}
	if err := registry.CheckToolMode(*toolMode); err != nil {
		return fmt.Errorf("--tool-mode: %w", err)
	}
	if *toolMode != "" {
		cfg.ToolMode = *toolMode
	}
	if err := checkProfile(cfg, *profile, *addr != ""); err != nil {
		return err
	}
	above := readAncestry()
	if reason := above.refusal(cfg); reason != "" {
		if *addr != "" {
			return fmt.Errorf("%s", reason)
		}
		return refuse(ctx, stdin, stdout, reason, logger)
	}
	var ln net.Listener
	if *addr != "" {
		if ln, err = net.Listen("tcp", *addr); err != nil {
			return fmt.Errorf("--http: %w", err)
		}
		defer ln.Close()
	}
	obs, err := newObserver(ctx, *metricsAddr, token, ln != nil, logger)
	if err != nil {
		return err
	}
	defer obs.close()
	reportConfig(cfg, logger)
	k, stopKeeper := startKeeper(ctx, stderr, logger)
	handingOff := handOff(k)
	var handedOff bool // the upstreams' stop was handed to the keeper
	defer func() { stopKeeper(handedOff) }()
	var rec *store.Recorder
	var cached map[string]*registry.Catalogue
	var pinsDir string
	if !*noRegistry {
		rec, cached = openRecorder(ctx, dir, cfg.Enabled(), logger)
		if rec != nil {
			pinsDir, _ = dir.path()
		}
	}
	watchCtx, stopWatching := context.WithCancel(ctx)
	triggers, stopReloads := reloads(watchCtx, cfg.Path, logger)
	defer func() { stopWatching(); stopReloads() }()
	m := mux.New(cfg, mux.Options{Logger: logger, Version: version(), Recorder: rec, Cached: cached, PageSize: *pageSize, Profile: *profile, Groups: groups(k), Env: above.childEnv(cfg),
		Masker: masker, Reloads: triggers, Load: reloader(c, *nameLength, maxSize, *toolMode), Shared: ln != nil,
		OAuth:   serveOAuth(stderr, logger, masker),
		HandOff: func() bool { handedOff = handingOff(); return handedOff }, StopAsked: stopAsked, PinsDir: pinsDir,
		Proxy: obs.proxyOptions(nil)})
	obs.observe(m)
	// --- statuspage (issue 21): the live status page at / ---
	page := m.StatusPage()
	page.Token, page.Logger = token, logger
	// --- end statuspage ---
	obs.Root = statuspage.Handler(page) // at / of the --metrics listener
	sideCtx, stopSide := context.WithCancel(ctx)
	sideDone := make(chan struct{})
	go func() { defer close(sideDone); _ = obs.serveSide(sideCtx, token, logger) }()
	defer func() { stopSide(); <-sideDone }()
	if url := obs.sideURL(); url != "" {
		logger.Info("mcpmux serving metrics", "url", url+"/metrics", "token", token != "")
		if rec != nil {
			rec.SetURL(url)
		}
	}
	if ln != nil {
		if sessionKeys != nil {
			sessionKeys.MaxAge = cfg.SessionLife()
		}
		hs := httpserve.New(m.Proxy(), httpserve.Options{Logger: logger, Token: token, MaxMessageSize: int(cfg.MessageSize()), Ready: m.Ready,
			MaxSessions: cfg.Sessions(), Keys: sessionKeys, ShutdownGrace: cfg.Drain(), Page: obs.Root, Handlers: obs.httpHandlers()})
		base := "http://" + ln.Addr().String()
		if rec != nil && obs.sideURL() == "" {
			rec.SetURL(base)
		}
		logger.Info("mcpmux serving over HTTP", "url", base+"/mcp", "sse", base+"/sse", "status", base+"/", "version", version(), "upstreams", len(m.Upstreams()), "cached", len(cached), "token", token != "",
			"portableSessions", sessionKeys != nil, "metrics", base+"/metrics")
		err = m.RunWith(ctx, func(ctx context.Context) error { return hs.Serve(ctx, ln) })
		logger.Info("mcpmux stopped")
		return err
	}
	logger.Info("mcpmux serving", "version", version(), "upstreams", len(m.Upstreams()), "cached", len(cached))
	if isTerminal(stdin) {
		fmt.Fprintln(stderr, "mcpmux: waiting for an MCP client on stdin (an MCP host such as Claude Desktop starts mcpmux serve; Ctrl-C stops it).\nmcpmux: to see the merged catalogue, run: mcpmux tools")
	}
	err = m.Run(ctx, stdin, stdout)
	logger.Info("mcpmux stopped")
	return err
}

// checkHTTP refuses what serve --http must not start with: a bind
// address that is not loopback without a token, or a token too short to
// be masked in the log.
func checkHTTP(addr, token string) error {
	if _, _, err := net.SplitHostPort(addr); err != nil {
		return fmt.Errorf("--http %q: want host:port, such as 127.0.0.1:8080: %w", addr, err)
	}
	switch {
	case token == "" && !httpserve.IsLoopback(addr):
		return fmt.Errorf("--http %q: %w", addr, httpserve.ErrNeedsToken)
	case token != "" && len(token) < minTokenLength:
		return fmt.Errorf("--token: at least %d characters, please", minTokenLength)
	}
	return nil
}

// minTokenLength is the shortest token serve takes: shorter values are
// never masked in logs (see internal/redact).
const minTokenLength = 6

// setup loads the configuration and makes the logger, which masks its
// secrets.
func setup(c *commonFlags, stderr io.Writer) (*registry.Config, *slog.Logger, error) {
	cfg, logger, _, err := setupMasked(c, stderr)
	return cfg, logger, err
}

// setupMasked is setup, and returns the logger's masker too, which serve
// gives the secrets of the configurations it reloads, and its token.
func setupMasked(c *commonFlags, stderr io.Writer) (*registry.Config, *slog.Logger, *redact.Masker, error) {
	lvl, err := parseLevel(c.logLevel)
	if err != nil {
		return nil, nil, nil, err
	}
	cfg, err := loadConfig(*c)
	if err != nil {
		return nil, nil, nil, err
	}
	w, err := c.logWriter(stderr)
	if err != nil {
		return nil, nil, nil, err
	}
	masker := mux.Masker(cfg)
	return cfg, newLogger(w, lvl, masker), masker, nil
}

// loadConfig loads the configuration file that --config names, or the
// default one.
func loadConfig(c commonFlags) (*registry.Config, error) {
	path, named, err := configPath(c)
	if err != nil {
		return nil, err
	}
	cfg, err := registry.Load(path)
	if errors.Is(err, fs.ErrNotExist) && !named {
		return nil, noConfigError(path)
	}
	if cfg != nil {
		// Bad entries and settings are the commands' to report (see
		// registry.Config.Invalid): only a file mcpmux cannot read at all
		// stops them.
		return cfg, nil
	}
	return nil, err
}

// configPath returns the configuration file to read: --config's, else
// $MCPMUX_CONFIG (for hosts and tools that cannot pass flags), else the
// default; named reports whether the user named it.
func configPath(c commonFlags) (path string, named bool, err error) {
	if c.config != "" {
		return c.config, true, nil
	}
	if env := os.Getenv("MCPMUX_CONFIG"); env != "" {
		return env, true, nil
	}
	path, err = registry.DefaultPath()
	if err != nil {
		return "", false, fmt.Errorf("finding the default config: %w", err)
	}
	return path, false, nil
}

// noConfigError says that there is no configuration at the default path,
// and how to make one.
func noConfigError(path string) error {
	return &noConfig{path}
}

// noConfig is the error of a command without a configuration file.
type noConfig struct{ path string }

func (e *noConfig) Error() string {
	return fmt.Sprintf(`no configuration at %s. To create one:
  mcpmux import --write   takes over the servers of Claude Desktop, Claude Code, Cursor, VS Code, Windsurf
  or copy config.example.json (https://github.com/mcpmux/mcpmux) to that path;
  or name another file with --config FILE or $MCPMUX_CONFIG`, e.path)
}

func (e *noConfig) Unwrap() error { return fs.ErrNotExist }

// reportConfig logs, once, each entry of cfg that cannot be used and each
// setting left at its default because it is wrong.
func reportConfig(cfg *registry.Config, logger *slog.Logger) {
	for _, name := range slices.Sorted(maps.Keys(cfg.Invalid)) {
		logger.Warn("server disabled: its configuration is invalid", "upstream", name, "err", cfg.Invalid[name])
	}
	for _, err := range cfg.Problems {
		logger.Warn("configuration setting ignored; using the default", "err", err)
	}
	for _, err := range cfg.Warnings {
		logger.Warn("configuration key ignored", "err", err)
	}
}

// checkProfile refuses a --profile that the configuration does not
// have, or one given with --http, whose clients choose theirs by URL.
func checkProfile(cfg *registry.Config, profile string, http bool) error {
	switch {
	case profile == "":
		return nil
	case http:
		return fmt.Errorf("--profile: over HTTP, clients choose a profile by URL: /mcp/p/%s", profile)
	case cfg.Profiles[profile] == nil:
		names := cfg.ProfileNames()
		if len(names) == 0 {
			return fmt.Errorf("--profile %q: the config has no \"profiles\"", profile)
		}
		msg := fmt.Sprintf("--profile %q: no such profile; the config has %s", profile, strings.Join(names, ", "))
		if near := registry.Closest(profile, names, 2); near != "" {
			msg += fmt.Sprintf(" (did you mean %q?)", near)
		}
		return errors.New(msg)
	}
	return nil
}
