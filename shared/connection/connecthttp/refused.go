package connecthttp

import (
	"errors"
	"net/http"

	"github.com/sfsync/sfsync/shared/connection"
	"github.com/sfsync/sfsync/shared/platform/httpapi"
)

// WriteRefused answers a request that needed the team's org and found
// Salesforce refusing the connection, and reports whether err was such a
// refusal (nothing is written otherwise):
//   - this deployment's connected app refused (connection.ErrAppRefused):
//     502 app_refused, with what the operator must check; the team has
//     nothing to do, its connection is unchanged;
//   - a needs_admin connection: 409 needs_admin, with the problem's reason
//     and what to do;
//   - a refresh token refused: 409 needs_reauth.
func WriteRefused(w http.ResponseWriter, err error) bool {
	var app *connection.AppRefusedError
	var admin *connection.AdminError
	switch {
	case errors.As(err, &app):
		httpapi.WriteError(w, http.StatusBadGateway, "app_refused", app.Problem.Message, "")
	case errors.As(err, &admin):
		httpapi.WriteError(w, http.StatusConflict, "needs_admin", admin.Problem.Message, "")
	case errors.Is(err, connection.ErrNeedsReauth):
		httpapi.WriteError(w, http.StatusConflict, "needs_reauth", "Salesforce refused the stored authorization; an admin must reconnect the org", "")
	default:
		return false
	}
	return true
}
