// Command token prints a JWT the local HTTP API accepts:
//
//	go run ./tools/token -team team_acme [-role admin] [-ttl 12h]
//
// `make token TEAM=<team_id> [ROLE=admin]` runs it. The signing key lives in
// .local/ and is created on first use; the local stack verifies with it.
package main

import (
	"flag"
	"fmt"
	"os"
	"time"

	"github.com/sfsync/sfsync/tools/jwtlocal"
)

func main() {
	team := flag.String("team", "", "team_id claim (required)")
	role := flag.String("role", "admin", "role claim: admin or member")
	ttl := flag.Duration("ttl", 12*time.Hour, "how long the token is valid")
	dir := flag.String("dir", jwtlocal.DefaultDir, "state directory holding the signing key")
	flag.Parse()
	if *team == "" {
		fmt.Fprintln(os.Stderr, "error: team is required (make token TEAM=<team_id> [ROLE=admin])")
		os.Exit(2)
	}
	keys, err := jwtlocal.Load(*dir)
	if err != nil {
		fmt.Fprintln(os.Stderr, "error:", err)
		os.Exit(1)
	}
	tok, err := keys.Mint(*team, *role, *ttl)
	if err != nil {
		fmt.Fprintln(os.Stderr, "error:", err)
		os.Exit(2)
	}
	fmt.Println(tok)
}
