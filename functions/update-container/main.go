// Command update-container is Berth's PATCH /v1/containers/{id} as a Lambda function.
package main

import "berth/functions/lambdafn"

func main() { lambdafn.Start("update-container") }
