// Command api is the HTTP API function: the Salesforce connect flow and the
// admin settings API, behind an API Gateway HTTP API with a JWT authorizer,
// and the admin console's static files.
package main

import (
	"fmt"
	"os"
	"time"

	"github.com/aws/aws-lambda-go/lambda"

	"github.com/sfsync/sfsync/shared/console"
	"github.com/sfsync/sfsync/shared/platform/environ"
	"github.com/sfsync/sfsync/shared/platform/logs"
	"github.com/sfsync/sfsync/shared/platform/wiring"
	"github.com/sfsync/sfsync/shared/resources"
)

// settings is the function's configuration, read from its environment.
type settings struct {
	base            wiring.Base      // with the connect flow's redirect URL and ALLOW_INSECURE_LOGIN_URLS
	returnURL       string           // where the consenting browser lands after the callback
	contactQueueURL string           // where the error inbox sends retries
	frameAncestors  string           // the pages that may frame the console (CSP frame-ancestors); "" is 'none'
	now             func() time.Time // the clock of the limits and the readiness cache; nil: time.Now
}

// readSettings reads the settings from env; what is missing or unreadable
// is recorded in env, except a CONSOLE_FRAME_ANCESTORS the console refuses,
// which is returned.
func readSettings(env *environ.Reader) (settings, error) {
	b := wiring.ReadBase(env, "api")
	b.RedirectURL = env.Require(resources.EnvOAuthRedirectURL)
	s := settings{base: b, returnURL: env.Require(resources.EnvOAuthReturnURL), contactQueueURL: env.Require(resources.EnvContactQueueURL)}
	raw := env.Optional(console.EnvFrameAncestors, "")
	fa, err := console.FrameAncestors(raw)
	if err != nil {
		return s, fmt.Errorf("%s=%q (want 'none', 'self' or https origins separated by spaces): %w", console.EnvFrameAncestors, raw, err)
	}
	s.frameAncestors = fa
	return s, nil
}

func main() {
	var env environ.Reader
	s, err := readSettings(&env)
	if err != nil {
		// One configuration line, naming this and whatever else is wrong.
		if envErr := env.Err(); envErr != nil {
			err = fmt.Errorf("%w; %w", envErr, err)
		}
		logs.New(os.Stdout, s.base.LogLevel).Error("configuration", "error", err.Error())
		os.Exit(1)
	}
	lambda.Start(handler(wiring.Start(&env, s.base), s))
}
