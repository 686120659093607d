package main

import "encoding/json"

// SQS bills each request, and a request's payload by the 64 KB: "each 64 KB
// chunk of a payload is billed as 1 request", so a 200 KB SendMessageBatch
// is 4 requests (https://aws.amazon.com/sqs/pricing/, read 2026-12-07). The
// payload of a send is its messages' bodies and attributes; of a
// ReceiveMessage, the messages it returns. Every other action is one.

const sqsChunk = 64 * 1024

// sqsAttr is a message attribute as the JSON protocol spells it.
type sqsAttr struct {
	DataType    string
	StringValue string
	BinaryValue []byte // base64 in JSON
}

type sqsMessage struct {
	MessageBody             string // in a send
	Body                    string // in a receive's answer
	MessageAttributes       map[string]sqsAttr
	MessageSystemAttributes map[string]sqsAttr
}

func (m sqsMessage) payload() int {
	n := len(m.MessageBody) + len(m.Body)
	for _, attrs := range []map[string]sqsAttr{m.MessageAttributes, m.MessageSystemAttributes} {
		for k, a := range attrs {
			n += len(k) + len(a.DataType) + len(a.StringValue) + len(a.BinaryValue)
		}
	}
	return n
}

// sqsChunks is the requests a payload of n bytes is billed as.
func sqsChunks(n int) int64 {
	return max(1, int64((n+sqsChunk-1)/sqsChunk))
}

// sqsBilled is the requests one SQS call (op, its JSON request and answer)
// is billed as.
func sqsBilled(op string, req, resp []byte) int64 {
	switch op {
	case "SendMessage":
		var m sqsMessage
		_ = json.Unmarshal(req, &m)
		return sqsChunks(m.payload())
	case "SendMessageBatch":
		var in struct{ Entries []sqsMessage }
		_ = json.Unmarshal(req, &in)
		n := 0
		for _, m := range in.Entries {
			n += m.payload()
		}
		return sqsChunks(n)
	case "ReceiveMessage":
		var out struct{ Messages []sqsMessage }
		_ = json.Unmarshal(resp, &out)
		n := 0
		for _, m := range out.Messages {
			n += m.payload()
		}
		return sqsChunks(n)
	}
	return 1
}
