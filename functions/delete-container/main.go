// Command delete-container is Berth's DELETE /v1/containers/{id} as a Lambda function.
package main

import "berth/functions/lambdafn"

func main() { lambdafn.Start("delete-container") }
