// Command create-user is Berth's POST /v1/users as a Lambda function.
package main

import "berth/functions/lambdafn"

func main() { lambdafn.Start("create-user") }
