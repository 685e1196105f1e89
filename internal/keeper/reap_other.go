//go:build !linux

package keeper

import (
	"context"
	"errors"
)

// BecomeSubreaper reports that only Linux has child subreapers.
func BecomeSubreaper() error { return errors.New("child subreapers are Linux's") }

// Reap does nothing: without a subreaper no orphan is re-parented here.
func (k *Keeper) Reap(ctx context.Context) {}
