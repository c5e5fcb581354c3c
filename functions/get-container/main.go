// Command get-container is Berth's GET /v1/containers/{id} as a Lambda function.
package main

import "berth/functions/lambdafn"

func main() { lambdafn.Start("get-container") }
