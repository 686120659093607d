// Package sequencer plays the sales sequencer against a running stack: it
// posts events to the SQS queues with the AWS SDK, reads the outcomes from the
// results queue, and calls the admin API with a locally signed JWT, exactly as
// the real sequencer and its admins would. The demo and the end-to-end tests
// drive the system through it.
package sequencer

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	sqstypes "github.com/aws/aws-sdk-go-v2/service/sqs/types"

	"github.com/sfsync/sfsync/shared/event"
	"github.com/sfsync/sfsync/tools/jwtlocal"
)

// Client is one sequencer.
type Client struct {
	SQS           *sqs.Client
	ContactQueue  string
	ActivityQueue string
	ResultsQueue  string
	APIURL        string
	Keys          *jwtlocal.Keys
	HTTP          *http.Client

	mu   sync.Mutex
	seen map[string][]event.Outcome // by event id, in arrival order
}

func (c *Client) http() *http.Client {
	if c.HTTP != nil {
		return c.HTTP
	}
	return &http.Client{Timeout: 30 * time.Second}
}

// Call sends an admin API request as team (role admin) and decodes the JSON
// answer into out (when not nil). It returns the status code.
func (c *Client) Call(ctx context.Context, team, method, path string, headers map[string]string, body, out any) (int, error) {
	tok, err := c.Keys.Mint(team, "admin", time.Hour)
	if err != nil {
		return 0, fmt.Errorf("mint token: %w", err)
	}
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return 0, err
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, c.APIURL+path, rd)
	if err != nil {
		return 0, err
	}
	req.Header.Set("Authorization", "Bearer "+tok)
	req.Header.Set("Content-Type", "application/json")
	for k, v := range headers {
		req.Header.Set(k, v)
	}
	resp, err := c.http().Do(req)
	if err != nil {
		return 0, fmt.Errorf("%s %s: %w", method, path, err)
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	if out != nil && len(data) > 0 {
		if err := json.Unmarshal(data, out); err != nil {
			return resp.StatusCode, fmt.Errorf("%s %s: decode %d answer: %w", method, path, resp.StatusCode, err)
		}
	}
	if resp.StatusCode >= 300 {
		return resp.StatusCode, fmt.Errorf("%s %s: %d %s", method, path, resp.StatusCode, bytes.TrimSpace(data))
	}
	return resp.StatusCode, nil
}

// Connect runs the OAuth connect flow for team against a Salesforce whose
// login page approves by itself (the simulator's auto-approve switch): the
// admin's browser is an HTTP client following the redirects to the return
// URL, whose state and ticket the same admin then posts to complete the
// connect.
func (c *Client) Connect(ctx context.Context, team, loginURL string) error {
	var out struct {
		AuthorizeURL string `json:"authorize_url"`
	}
	if _, err := c.Call(ctx, team, "POST", "/v1/salesforce/connect", nil,
		map[string]string{"environment": "custom", "login_url": loginURL}, &out); err != nil {
		return err
	}
	browser := &http.Client{Timeout: 30 * time.Second}
	req, err := http.NewRequestWithContext(ctx, "GET", out.AuthorizeURL, nil)
	if err != nil {
		return err
	}
	resp, err := browser.Do(req)
	if err != nil {
		return fmt.Errorf("follow the authorize URL: %w", err)
	}
	resp.Body.Close()
	final := resp.Request.URL
	q := final.Query()
	if q.Get("salesforce") != "consented" {
		return fmt.Errorf("connect: landed on %s", redact(final))
	}
	_, err = c.Call(ctx, team, "POST", "/v1/salesforce/connect/complete", nil,
		map[string]string{"state": q.Get("state"), "ticket": q.Get("ticket")}, nil)
	if err != nil {
		return fmt.Errorf("complete the connect: %w", err)
	}
	return nil
}

// redact writes u without its one-time ticket.
func redact(u *url.URL) string {
	q := u.Query()
	if q.Has("ticket") {
		q.Set("ticket", "REDACTED")
	}
	return u.Scheme + "://" + u.Host + u.Path + "?" + q.Encode()
}

// PutSettings saves the team's settings over whatever version is current.
func (c *Client) PutSettings(ctx context.Context, team string, settings map[string]any) error {
	_, err := c.Call(ctx, team, "PUT", "/v1/salesforce/settings", map[string]string{"If-Match": "*"}, settings, nil)
	return err
}

// PutSequence saves a sequence's override.
func (c *Client) PutSequence(ctx context.Context, team, seq string, override map[string]any) error {
	_, err := c.Call(ctx, team, "PUT", "/v1/sequences/"+url.PathEscape(seq)+"/salesforce", map[string]string{"If-Match": "*"}, override, nil)
	return err
}

// Send posts events to their queues (10 per SQS call).
func (c *Client) Send(ctx context.Context, evs ...event.Event) error {
	byQueue := map[string][]sqstypes.SendMessageBatchRequestEntry{}
	for i, ev := range evs {
		body, err := event.Encode(ev)
		if err != nil {
			return fmt.Errorf("encode %s: %w", ev.ID, err)
		}
		q := c.ContactQueue
		if ev.Queue() == event.ActivityQueue {
			q = c.ActivityQueue
		}
		byQueue[q] = append(byQueue[q], sqstypes.SendMessageBatchRequestEntry{Id: aws.String(strconv.Itoa(i)), MessageBody: aws.String(string(body))})
	}
	for q, entries := range byQueue {
		if err := c.SendRaw(ctx, q, entries); err != nil {
			return err
		}
	}
	return nil
}

// SendRaw posts message bodies as they are (malformed ones included).
func (c *Client) SendRaw(ctx context.Context, queueURL string, entries []sqstypes.SendMessageBatchRequestEntry) error {
	for len(entries) > 0 {
		n := min(10, len(entries))
		out, err := c.SQS.SendMessageBatch(ctx, &sqs.SendMessageBatchInput{QueueUrl: aws.String(queueURL), Entries: entries[:n]})
		if err != nil {
			return fmt.Errorf("send to %s: %w", queueURL, err)
		}
		if len(out.Failed) > 0 {
			return fmt.Errorf("send to %s: %d messages refused: %s", queueURL, len(out.Failed), aws.ToString(out.Failed[0].Message))
		}
		entries = entries[n:]
	}
	return nil
}

// Poll reads what the results queue holds now into the client's record.
func (c *Client) Poll(ctx context.Context, wait time.Duration) error {
	out, err := c.SQS.ReceiveMessage(ctx, &sqs.ReceiveMessageInput{QueueUrl: aws.String(c.ResultsQueue),
		MaxNumberOfMessages: 10, WaitTimeSeconds: int32(wait / time.Second)})
	if err != nil {
		return fmt.Errorf("receive outcomes: %w", err)
	}
	var del []sqstypes.DeleteMessageBatchRequestEntry
	c.mu.Lock()
	if c.seen == nil {
		c.seen = map[string][]event.Outcome{}
	}
	for i, m := range out.Messages {
		var o event.Outcome
		if err := json.Unmarshal([]byte(aws.ToString(m.Body)), &o); err == nil {
			c.seen[o.EventID] = append(c.seen[o.EventID], o)
		}
		del = append(del, sqstypes.DeleteMessageBatchRequestEntry{Id: aws.String(strconv.Itoa(i)), ReceiptHandle: m.ReceiptHandle})
	}
	c.mu.Unlock()
	if len(del) > 0 {
		if _, err := c.SQS.DeleteMessageBatch(ctx, &sqs.DeleteMessageBatchInput{QueueUrl: aws.String(c.ResultsQueue), Entries: del}); err != nil {
			return fmt.Errorf("delete outcomes: %w", err)
		}
	}
	return nil
}

// Outcomes returns every outcome received for an event, in arrival order.
func (c *Client) Outcomes(eventID string) []event.Outcome {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]event.Outcome(nil), c.seen[eventID]...)
}

// Await polls until every event has an outcome accepted by want (nil: any
// outcome), and returns the last of each.
func (c *Client) Await(ctx context.Context, ids []string, want func(event.Outcome) bool, timeout time.Duration) (map[string]event.Outcome, error) {
	deadline := time.Now().Add(timeout)
	for {
		got := map[string]event.Outcome{}
		c.mu.Lock()
		for _, id := range ids {
			os := c.seen[id]
			if len(os) > 0 && (want == nil || want(os[len(os)-1])) {
				got[id] = os[len(os)-1]
			}
		}
		c.mu.Unlock()
		if len(got) == len(ids) {
			return got, nil
		}
		if time.Now().After(deadline) {
			return got, fmt.Errorf("%d of %d events have no outcome after %s", len(ids)-len(got), len(ids), timeout)
		}
		if err := c.Poll(ctx, time.Second); err != nil {
			return got, err
		}
	}
}

// Final reports whether an outcome is final (not pending).
func Final(o event.Outcome) bool { return o.Status != event.StatusPending }
