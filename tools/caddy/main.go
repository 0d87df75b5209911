// Command caddy is Caddy with its standard modules, as upstream's cmd/caddy builds it. It is a module of its own
// (not a tool of ../go.mod) so that Caddy's dependency graph never moves the versions of the other tools.
package main

import (
	caddycmd "github.com/caddyserver/caddy/v2/cmd"

	_ "github.com/caddyserver/caddy/v2/modules/standard"
)

func main() {
	caddycmd.Main()
}
