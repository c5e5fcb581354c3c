package api

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"mime"
	"net/http"
	"net/url"
	"strconv"
	"strings"
)

// maxBody is the largest request body the API reads.
const maxBody = 64 << 10

// validator is implemented by request types that check their own values.
type validator interface {
	validate() error
}

// decode reads r's body into a T and validates it. The body is JSON, or a
// form (spin-docker's clients post forms) whose fields are read as JSON
// strings. A "form" that is a JSON object is JSON: `curl -d '{...}'` labels
// JSON as a form, and spin-docker accepted it. Unknown fields, trailing data
// and bodies over maxBody are errors; an empty body is an empty object.
func decode[T any](r *http.Request) (T, error) {
	var v T
	body, err := io.ReadAll(r.Body)
	if err != nil {
		return v, err
	}
	mediaType, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	switch {
	case mediaType == "application/x-www-form-urlencoded" && !bytes.HasPrefix(bytes.TrimSpace(body), []byte("{")):
		if body, err = formToJSON(body); err != nil {
			return v, err
		}
	case mediaType == "", mediaType == "application/json", strings.HasSuffix(mediaType, "+json"),
		mediaType == "application/x-www-form-urlencoded":
	default:
		return v, errorf(http.StatusUnsupportedMediaType, "content type %q is not supported: send JSON or a form", mediaType)
	}
	if len(bytes.TrimSpace(body)) == 0 {
		body = []byte("{}")
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&v); err != nil {
		return v, errorf(http.StatusBadRequest, "malformed body: %s", describeJSONError(err))
	}
	if dec.More() {
		return v, errorf(http.StatusBadRequest, "malformed body: data after the JSON object")
	}
	if val, ok := any(&v).(validator); ok {
		if err := val.validate(); err != nil {
			return v, err
		}
	}
	return v, nil
}

// formToJSON turns a form into a JSON object of strings.
func formToJSON(body []byte) ([]byte, error) {
	form, err := url.ParseQuery(string(body))
	if err != nil {
		return nil, errorf(http.StatusBadRequest, "malformed form body: %v", err)
	}
	obj := make(map[string]string, len(form))
	for k, vs := range form {
		if len(vs) != 1 {
			return nil, errorf(http.StatusBadRequest, "form field %q is given %d times", k, len(vs))
		}
		obj[k] = vs[0]
	}
	return json.Marshal(obj)
}

func describeJSONError(err error) string {
	var typeErr *json.UnmarshalTypeError
	var syntaxErr *json.SyntaxError
	switch {
	case errors.As(err, &typeErr):
		return "field " + strconv.Quote(typeErr.Field) + " must be " + jsonKind(typeErr.Type.Kind().String())
	case errors.As(err, &syntaxErr):
		return "invalid JSON at byte " + strconv.FormatInt(syntaxErr.Offset, 10)
	case errors.Is(err, io.ErrUnexpectedEOF):
		return "truncated JSON"
	}
	// json reports unknown fields as `json: unknown field "x"`.
	return strings.TrimPrefix(err.Error(), "json: ")
}

func jsonKind(goKind string) string {
	switch goKind {
	case "slice", "array":
		return "an array"
	case "map", "struct":
		return "an object"
	case "string":
		return "a string"
	case "bool":
		return "a boolean"
	}
	return "a number"
}

// jsonInt is a whole number sent as a JSON number or as a numeric string:
// forms carry only strings, and the connector's clients (httpie's
// number=3) send numbers as strings. Ranges are checked by validate.
type jsonInt int

func (n *jsonInt) UnmarshalJSON(b []byte) error {
	v, err := strconv.Atoi(strings.Trim(string(b), `"`))
	if err != nil || v < -1<<31 || v > 1<<31-1 {
		return errorf(http.StatusBadRequest, "%s is not a whole number", b)
	}
	*n = jsonInt(v)
	return nil
}
