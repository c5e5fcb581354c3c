// Command get-me is Berth's GET /v1/users/me as a Lambda function.
package main

import "berth/functions/lambdafn"

func main() { lambdafn.Start("get-me") }
