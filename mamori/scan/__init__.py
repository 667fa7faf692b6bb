"""`mamori scan`: every rule's own evaluation code, run read-only against a real account from a
laptop, before anything is deployed (and `--plan`: what each remediation would change).

Not shipped to AWS: the Lambda layer takes mamori/*.py only (layer/Makefile), and the SSM
documents inline only the modules their scripts import.
"""
