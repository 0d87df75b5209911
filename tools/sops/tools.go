//go:build tools

// Package tools pins sops, which decrypts an app's SOPS environment file (docs/secrets.md), and age-keygen, for
// the operator's key and the tests'. A module of its own (not a tool of ../go.mod), so that sops's dependency graph
// (the clouds' key services) never moves the versions of the other tools.
// scripts/install-tools builds them into ../../.tools/bin.
package tools

import (
	_ "filippo.io/age/cmd/age-keygen"
	_ "github.com/getsops/sops/v3/cmd/sops"
)
