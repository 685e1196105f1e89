package main

import (
	"bytes"
	"context"
	"fmt"
	"os/exec"
	"regexp"
	"strings"
)

// semverRE is Semantic Versioning 2.0.0's own expression (semver.org),
// without the leading "v" that git tags carry.
var semverRE = regexp.MustCompile(`^(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)` +
	`(?:-((?:0|[1-9]\d*|\d*[a-zA-Z-][0-9a-zA-Z-]*)(?:\.(?:0|[1-9]\d*|\d*[a-zA-Z-][0-9a-zA-Z-]*))*))?` +
	`(?:\+([0-9a-zA-Z-]+(?:\.[0-9a-zA-Z-]+)*))?$`)

// resolveVersion returns the release's version, semver without the "v":
// flag's when it is set (with or without a "v"); else the one git describe
// gives the checkout in root (see versionFromDescribe).
func resolveVersion(ctx context.Context, root, flag string) (string, error) {
	if flag != "" {
		v := strings.TrimPrefix(flag, "v")
		if !semverRE.MatchString(v) {
			return "", fmt.Errorf("-version %q is not a semantic version such as 1.2.0 or v1.2.0-rc.1", flag)
		}
		return v, nil
	}
	cmd := exec.CommandContext(ctx, "git", "describe", "--tags", "--match", "v[0-9]*", "--dirty", "--always")
	cmd.Dir = root
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return "", fmt.Errorf("finding the version with git describe (give -version instead): %w: %s", err, bytes.TrimSpace(stderr.Bytes()))
	}
	return versionFromDescribe(strings.TrimSpace(string(out)))
}

// versionFromDescribe turns what `git describe --tags --dirty --always`
// prints into a semantic version: a tag such as v1.2.0 gives 1.2.0, a
// commit after it 1.2.0-3-gabc1234 (git's own spelling, a valid
// pre-release), a checkout without a tag 0.0.0-gabc1234; a "-dirty"
// suffix stays.
func versionFromDescribe(describe string) (string, error) {
	if describe == "" {
		return "", fmt.Errorf("git describe printed nothing")
	}
	if v, ok := strings.CutPrefix(describe, "v"); ok {
		if !semverRE.MatchString(v) {
			return "", fmt.Errorf("git describe gives %q, whose tag is not a semantic version: tag vMAJOR.MINOR.PATCH or give -version", describe)
		}
		return v, nil
	}
	// No tag: an abbreviated commit hash, with "-dirty" perhaps; the "g"
	// keeps a hash of digits from being a number with a leading zero.
	v := "0.0.0-g" + describe
	if !semverRE.MatchString(v) {
		return "", fmt.Errorf("git describe gives %q, which is neither a tag nor a commit", describe)
	}
	return v, nil
}
