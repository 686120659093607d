// Command api is the HTTP API function: the Salesforce connect flow and the
// admin settings API, behind an API Gateway HTTP API with a JWT authorizer.
package main

import (
	"time"

	"github.com/aws/aws-lambda-go/lambda"

	"github.com/sfsync/sfsync/shared/platform/environ"
	"github.com/sfsync/sfsync/shared/platform/wiring"
	"github.com/sfsync/sfsync/shared/resources"
)

// settings is the function's configuration, read from its environment.
type settings struct {
	base            wiring.Base      // with the connect flow's redirect URL and ALLOW_INSECURE_LOGIN_URLS
	returnURL       string           // where the consenting browser lands after the callback
	contactQueueURL string           // where the error inbox sends retries
	now             func() time.Time // the clock of the limits and the readiness cache; nil: time.Now
}

// readSettings reads the settings from env; what is missing or unreadable
// is recorded in env.
func readSettings(env *environ.Reader) settings {
	b := wiring.ReadBase(env, "api")
	b.RedirectURL = env.Require(resources.EnvOAuthRedirectURL)
	return settings{base: b, returnURL: env.Require(resources.EnvOAuthReturnURL), contactQueueURL: env.Require(resources.EnvContactQueueURL)}
}

func main() {
	var env environ.Reader
	s := readSettings(&env)
	lambda.Start(handler(wiring.Start(&env, s.base), s))
}
