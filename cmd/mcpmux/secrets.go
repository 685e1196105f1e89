package main

import (
	"github.com/mcpmux/mcpmux/internal/redact"
	"github.com/mcpmux/mcpmux/registry"
)

// masker masks the secrets of every server in cfg, disabled ones too (see
// registry.Server.SecretValues), wherever mcpmux writes: its log, the
// errors the client gets, mcpmux://status, the registry, and the output of
// tools, status and history. Nil for a nil cfg.
func masker(cfg *registry.Config) *redact.Masker {
	if cfg == nil {
		return nil
	}
	var secrets []string
	for _, s := range cfg.Servers {
		if s != nil {
			secrets = append(secrets, s.SecretValues()...)
		}
	}
	return redact.New(secrets)
}
