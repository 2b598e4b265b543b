package config

import (
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"errors"
	"os"
	"strings"
)

// keyDER is a key file's DER: PEM, or the bare base64 that Alipay's key
// tool and console hand out.
func keyDER(path string) ([]byte, error) {
	if path == "" {
		return nil, errors.New("no file named")
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	if blk, _ := pem.Decode(b); blk != nil {
		return blk.Bytes, nil
	}
	der, err := base64.StdEncoding.DecodeString(strings.Join(strings.Fields(string(b)), ""))
	if err != nil {
		return nil, errors.New("neither PEM nor base64")
	}
	return der, nil
}

// ReadRSAPrivateKey reads an RSA private key (PKCS#1 or PKCS#8).
func ReadRSAPrivateKey(path string) (*rsa.PrivateKey, error) {
	der, err := keyDER(path)
	if err != nil {
		return nil, err
	}
	if k, err := x509.ParsePKCS1PrivateKey(der); err == nil {
		return k, nil
	}
	k, err := x509.ParsePKCS8PrivateKey(der)
	if err != nil {
		return nil, errors.New("not an RSA private key")
	}
	rk, ok := k.(*rsa.PrivateKey)
	if !ok {
		return nil, errors.New("not an RSA private key")
	}
	return rk, nil
}

// ReadRSAPublicKey reads an RSA public key (SubjectPublicKeyInfo or PKCS#1).
func ReadRSAPublicKey(path string) (*rsa.PublicKey, error) {
	der, err := keyDER(path)
	if err != nil {
		return nil, err
	}
	if k, err := x509.ParsePKCS1PublicKey(der); err == nil {
		return k, nil
	}
	k, err := x509.ParsePKIXPublicKey(der)
	if err != nil {
		return nil, errors.New("not an RSA public key")
	}
	rk, ok := k.(*rsa.PublicKey)
	if !ok {
		return nil, errors.New("not an RSA public key")
	}
	return rk, nil
}

// ReadCertificateKey reads a certificate (PEM) and returns its RSA key.
func ReadCertificateKey(path string) (*rsa.PublicKey, error) {
	der, err := keyDER(path)
	if err != nil {
		return nil, err
	}
	c, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, errors.New("not a certificate")
	}
	k, ok := c.PublicKey.(*rsa.PublicKey)
	if !ok {
		return nil, errors.New("not an RSA certificate")
	}
	return k, nil
}
