// Command localstack runs the whole service on this machine (`make run`):
// moto_server for DynamoDB, SQS, KMS and Secrets Manager (started when
// nothing answers at the endpoint), the Salesforce simulator, the three
// functions built from ./functions and run behind the Lambda Runtime API, the
// SQS event sources and the HTTP API with the admin console. Once ready it
// writes .local/stack.env and prints the console's address with a local
// admin token; Ctrl-C stops everything it started.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"net/url"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"
	"time"

	"github.com/sfsync/sfsync/tools/jwtlocal"
	"github.com/sfsync/sfsync/tools/motoserver"
	"github.com/sfsync/sfsync/tools/runner"
	"github.com/sfsync/sfsync/tools/sfsim/org"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "error:", err)
		os.Exit(1)
	}
}

func run() error {
	defEndpoint := os.Getenv("AWS_ENDPOINT_URL")
	if defEndpoint == "" {
		defEndpoint = "http://127.0.0.1:5000"
	}
	endpoint := flag.String("moto", defEndpoint, "moto_server URL; started here when nothing answers (env AWS_ENDPOINT_URL)")
	apiAddr := flag.String("api-addr", "127.0.0.1:8080", "address of the HTTP API")
	sfAddr := flag.String("salesforce-addr", "127.0.0.1:8081", "address of the Salesforce simulator")
	prefix := flag.String("prefix", "sfsync-local", "prefix of the AWS resource names")
	state := flag.String("state", jwtlocal.DefaultDir, "local state directory (signing key, binaries, stack.env, simulator org)")
	clientID := flag.String("client-id", "sfsync-local", "connected app consumer key (the simulator's and the functions')")
	clientSecret := flag.String("client-secret", "sfsync-local-secret", "connected app consumer secret")
	logLevel := flag.String("log-level", "info", "functions' LOG_LEVEL: debug, info, warn, error")
	returnURL := flag.String("return-url", "", "OAUTH_RETURN_URL: where the consenting browser lands after the callback; default the admin console, which completes the connect in the tab where its admin started it")
	team := flag.String("team", "team_acme", "the team whose local admin token the console's address printed at the start carries")
	flag.Parse()

	logger := slog.New(slog.NewJSONHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelInfo}))
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()

	for _, a := range []struct{ name, addr string }{{"HTTP API", *apiAddr}, {"Salesforce simulator", *sfAddr}} {
		if motoserver.InUse(dialable(a.addr)) {
			return fmt.Errorf("%s address %s is already in use (stop what listens there or pass another address)", a.name, a.addr)
		}
	}

	moto, err := ensureMoto(ctx, *endpoint)
	if err != nil {
		return err
	}
	defer moto.Stop()
	// The stack writes through the atomic proxy: moto's conditional writes
	// and transactions are not atomic (see motoserver.AtomicProxy).
	proxy, err := motoserver.StartAtomicProxy(*endpoint)
	if err != nil {
		return err
	}
	defer proxy.Close()

	var st runner.Stack
	var sim *org.Org
	opts := runner.StackOptions{
		Endpoint: proxy.URL, Prefix: *prefix, StateDir: *state, APIAddr: *apiAddr,
		Output: os.Stdout, Logger: logger, ClientID: *clientID, ClientSecret: *clientSecret, LogLevel: *logLevel,
		OAuthReturnURL: *returnURL,
		StartSalesforce: func(context.Context) (string, func(), error) {
			sim = org.New(org.Config{
				ClientID: *clientID, ClientSecret: *clientSecret,
				RedirectURIs: []string{st.OAuthRedirectURL()},
				StateFile:    filepath.Join(*state, "salesforce-org.json"),
			})
			u, err := sim.ListenAndStart(*sfAddr)
			if err != nil {
				return "", nil, err
			}
			return u, func() { _ = sim.Close() }, nil
		},
	}
	fmt.Fprintln(os.Stderr, "building the functions and provisioning on", *endpoint, "...")
	if err := st.Start(ctx, opts); err != nil {
		var be *runner.BuildError
		if errors.As(err, &be) {
			return fmt.Errorf("a function did not build:\n%w", err)
		}
		return err
	}
	defer st.Stop()

	envFile := filepath.Join(*state, "stack.env")
	if err := st.WriteEnvFile(envFile); err != nil {
		return err
	}
	defer os.Remove(envFile)
	consoleURL, err := adminConsoleURL(&st, *state, *team)
	if err != nil {
		return err
	}
	fmt.Fprintf(os.Stderr, `
sfsync is running locally.
  HTTP API         %s
  Salesforce       %s  (records page at /)
  AWS (moto)       %s
  contact queue    %s
  activity queue   %s
  results queue    %s

  source %s      # act as the sequencer with the AWS CLI or an SDK
  make token TEAM=%s          # a bearer token for the API

The admin console, as an admin of %s (the token is valid for 12 hours):
  %s

Ctrl-C stops everything.
`, st.APIURL, st.SalesforceURL, st.Endpoint,
		st.Resources.Queues["contact-events"].URL, st.Resources.Queues["activity-events"].URL,
		st.Resources.Queues["results"].URL, envFile, *team, *team, consoleURL)

	<-ctx.Done()
	fmt.Fprintln(os.Stderr, "stopping...")
	return nil
}

// adminConsoleURL is the address that opens the stack's admin console as
// an admin of team, with a local token signed by the key in state.
func adminConsoleURL(st *runner.Stack, state, team string) (string, error) {
	keys, err := jwtlocal.Load(state)
	if err != nil {
		return "", err
	}
	tok, err := keys.Mint(team, "admin", 12*time.Hour)
	if err != nil {
		return "", fmt.Errorf("the console's token: %w", err)
	}
	return st.ConsoleURLWith(tok), nil
}

// motoHandle is the moto_server this command started, if any.
type motoHandle struct{ srv *motoserver.Server }

func (m motoHandle) Stop() {
	if m.srv != nil {
		m.srv.Stop()
	}
}

// ensureMoto uses the moto_server at endpoint, or starts one there when the
// endpoint is on this machine and nothing answers.
func ensureMoto(ctx context.Context, endpoint string) (motoHandle, error) {
	if motoserver.Answers(endpoint) {
		return motoHandle{}, nil
	}
	u, err := url.Parse(endpoint)
	if err != nil || u.Host == "" {
		return motoHandle{}, fmt.Errorf("moto endpoint %q is not a URL like http://127.0.0.1:5000", endpoint)
	}
	host := u.Hostname()
	if ip := net.ParseIP(host); host != "localhost" && (ip == nil || !ip.IsLoopback()) {
		return motoHandle{}, fmt.Errorf("nothing answers at %s and it is not on this machine, so it cannot be started here", endpoint)
	}
	if motoserver.InUse(u.Host) {
		return motoHandle{}, fmt.Errorf("%s is in use by something that is not moto_server", u.Host)
	}
	fmt.Fprintln(os.Stderr, "starting moto_server on", u.Host, "...")
	srv, err := motoserver.Start(ctx, u.Host)
	if err != nil {
		return motoHandle{}, err
	}
	return motoHandle{srv: srv}, nil
}

// dialable turns a listen address (":8080") into one to dial.
func dialable(addr string) string {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return addr
	}
	if host == "" || host == "0.0.0.0" || host == "::" {
		host = "127.0.0.1"
	}
	return net.JoinHostPort(host, port)
}
